"""Settlement by signed webhooks (verified, applied once, stale or forged ones refused) and refunds."""

from __future__ import annotations

import datetime as dt
import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.audit import events_for
from tests.portal.payments.conftest import Sandbox, create, pay, pay_form, request_body
from tests.portal.sessions import log_in

WEBHOOK = "/api/payments/webhooks"


def _paid(client: TestClient, headers: dict[str, str], resident_id: int, sandbox: Sandbox) -> tuple[dict, str]:
    made = create(client, headers, request_body(resident_id)).json()
    log_in(client, resident_id=resident_id)
    assert pay(client, made["id"], pay_form(client, made["id"])).status_code == 303
    (charge,) = sandbox.payments_with_reference(f"payment-request-{made['id']}")
    return made, str(charge["id"])


def _deliver(client: TestClient, signed: dict) -> object:
    headers = signed["headers"] | {"content-type": "application/json"}
    return client.post(WEBHOOK, content=signed["body"].encode(), headers=headers)


def test_a_signed_webhook_settles_the_payment_once(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox
) -> None:
    made, charge = _paid(pay_client, town_headers, resident_id, sandbox)
    (event,) = sandbox.events_for(charge)
    assert event["type"] == "payment.settled"
    signed = sandbox.signed(event["id"])
    before = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()
    assert before["settled_at"] is None

    first = _deliver(pay_client, signed)
    assert first.status_code == 200 and first.json() == {"applied": True}
    settled = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()["settled_at"]
    assert settled is not None
    retried = _deliver(pay_client, signed)  # the acquirer retries: acknowledged, not applied again
    assert retried.status_code == 200 and retried.json() == {"applied": False}
    resigned = _deliver(pay_client, sandbox.signed(event["id"]))  # the same event signed afresh
    assert resigned.json() == {"applied": False}
    after = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()
    assert after["settled_at"] == settled
    assert "収納確認待ち" not in pay_client.get(f"/portal/payments/{made['id']}/receipt").text


def test_forged_stale_or_malformed_webhooks_are_refused_and_change_nothing(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox
) -> None:
    made, charge = _paid(pay_client, town_headers, resident_id, sandbox)
    (event,) = sandbox.events_for(charge)
    signed = sandbox.signed(event["id"])
    body = json.loads(signed["body"])

    tampered = dict(signed, body=json.dumps(body | {"data": body["data"] | {"amount": 1}}))
    other_secret = dict(signed, headers=signed["headers"] | {"webhook-signature": "v1,AAAA" + "A" * 40})
    no_signature = dict(signed, headers={k: v for k, v in signed["headers"].items() if k != "webhook-signature"})
    bad_time = dict(signed, headers=signed["headers"] | {"webhook-timestamp": "soon"})
    other_id = dict(signed, headers=signed["headers"] | {"webhook-id": "evt_other"})
    for forged in (tampered, other_secret, no_signature, bad_time, other_id):
        answer = _deliver(pay_client, forged)
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("bad-webhook")
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=6)):  # a captured message replayed later
        stale = _deliver(pay_client, signed)
        assert stale.status_code == 400
        assert "300 s" in stale.json()["detail"]
    garbage = pay_client.post(WEBHOOK, content=b"\xff" * 10, headers=signed["headers"])
    assert garbage.status_code == 400
    status = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()
    assert status["settled_at"] is None
    assert _deliver(pay_client, signed).json() == {"applied": True}  # the genuine one still works


def test_partial_and_full_refunds_are_idempotent_bounded_and_seen_by_the_person(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox, db: Session
) -> None:
    made, charge = _paid(pay_client, town_headers, resident_id, sandbox)
    url = f"/api/payments/requests/{made['id']}/refunds"

    def refund(amount: int, key: str, reason: str = "過誤納付") -> object:
        return pay_client.post(
            url, json={"amount": amount, "reason": reason}, headers=town_headers | {"Idempotency-Key": key}
        )

    first = refund(2_300, "refund-1")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    replay = refund(2_300, "refund-1")
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert refund(2_301, "refund-1").status_code == 422
    too_much = refund(10_001, "refund-2")
    assert too_much.status_code == 409 and "10000" in too_much.json()["detail"]
    assert refund(0, "refund-3").status_code == 422
    rest = refund(10_000, "refund-4")
    assert rest.status_code == 201
    assert refund(1, "refund-5").status_code == 409

    status = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()
    assert status["status"] == "refunded" and status["refunded_amount"] == 12_300
    assert [r["amount"] for r in status["refunds"]] == [2_300, 10_000]
    acquirer = sandbox.get(f"/v1/payments/{charge}").json()
    assert (acquirer["status"], acquirer["refunded_amount"]) == ("refunded", 12_300)
    actions = [e.action for e in events_for(db, made["subject"], limit=1000)]
    assert actions.count("payments.refunded") == 2 and actions.count("payments.paid") == 1
    receipt = pay_client.get(f"/portal/payments/{made['id']}/receipt").text
    assert "2,300円" in receipt and "返金済み" in receipt

    refund_events = [e for e in sandbox.events_for(charge) if e["type"] == "refund.settled"]
    assert len(refund_events) == 2
    for event in refund_events:
        assert _deliver(pay_client, sandbox.signed(event["id"])).json() == {"applied": True}
    settled = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()["refunds"]
    assert all(r["settled_at"] for r in settled)


def test_an_unpaid_request_cannot_be_refunded(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int
) -> None:
    made = create(pay_client, town_headers, request_body(resident_id)).json()
    answer = pay_client.post(
        f"/api/payments/requests/{made['id']}/refunds",
        json={"amount": 1, "reason": "x"},
        headers=town_headers | {"Idempotency-Key": "r"},
    )
    assert answer.status_code == 409 and answer.json()["type"].endswith("not-refundable")
