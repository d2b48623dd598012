"""The sandbox acquirer on its own, as a client of a real acquirer would test it: keys, idempotency, declines."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from openmyna.core.config import Settings
from openmyna.portal.payments import setup, webhooks
from openmyna.portal.payments.config import PaymentSettings
from openmyna.portal.payments.sandbox import TEST_CARDS, luhn_valid
from tests.live import free_port
from tests.portal.payments.conftest import (
    SANDBOX_KEY,
    WEBHOOK_SECRET,
    Sandbox,
    create,
    pay,
    pay_form,
    request_body,
)
from tests.portal.sessions import log_in

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}


def _payment(amount: int = 1_000, **card: object) -> dict[str, object]:
    return {"amount": amount, "currency": "jpy", "reference": "ref-1", "card": CARD | card}


def test_every_test_card_number_is_luhn_valid_and_behaves_as_documented(sandbox: Sandbox) -> None:
    for number, card in TEST_CARDS.items():
        assert luhn_valid(number), number
        answer = sandbox.post("/v1/payments", _payment(number=number), key=f"k-{number}")
        if card.decline_code:
            assert answer.status_code == 402
            assert answer.json()["error"]["code"] == card.decline_code
            assert answer.json()["payment"]["status"] == "declined"
        else:
            assert answer.status_code == 201 and answer.json()["status"] == "authorised"
            assert answer.json()["card"] == {"brand": card.brand, "last4": number[-4:]}
    for number, code in (("4242424242424241", "incorrect_number"), ("4111111111111111", "test_mode_live_card")):
        answer = sandbox.post("/v1/payments", _payment(number=number), key=f"k-{number}")
        assert answer.status_code == 402 and answer.json()["error"]["code"] == code
    last_year = dt.date.today().year - 1
    expired = sandbox.post("/v1/payments", _payment(exp_year=last_year), key="k-expired")
    assert expired.json()["error"]["code"] == "expired_card"


def test_the_same_key_replays_the_answer_and_another_body_is_422(sandbox: Sandbox) -> None:
    first = sandbox.post("/v1/payments", _payment(), key="same")
    again = sandbox.post("/v1/payments", _payment(), key="same")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = sandbox.post("/v1/payments", _payment(amount=1_001), key="same")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    declined = sandbox.post("/v1/payments", _payment(number="4000000000000002"), key="declined")
    assert sandbox.post("/v1/payments", _payment(number="4000000000000002"), key="declined").json() == declined.json()


def test_capture_and_refunds_are_bounded_and_signed_events_are_kept(sandbox: Sandbox) -> None:
    payment = sandbox.post("/v1/payments", _payment(amount=5_000), key="p").json()
    url = f"/v1/payments/{payment['id']}"
    assert sandbox.post(url + "/refunds", {"amount": 1}, key="r0").status_code == 400  # not captured yet
    assert sandbox.post(url + "/capture", {"amount": 5_001}, key="c0").status_code == 400
    captured = sandbox.post(url + "/capture", {"amount": 5_000}, key="c1")
    assert captured.status_code == 200 and captured.json()["status"] == "captured"
    assert sandbox.post(url + "/capture", {"amount": 5_000}, key="c2").status_code == 400  # twice, other key
    assert sandbox.post(url + "/refunds", {"amount": 3_000}, key="r1").status_code == 201
    assert sandbox.post(url + "/refunds", {"amount": 2_001}, key="r2").status_code == 400
    assert sandbox.post(url + "/refunds", {"amount": 2_000}, key="r3").status_code == 201
    assert sandbox.get(url).json()["status"] == "refunded"

    events = sandbox.events_for(payment["id"])
    assert sorted(e["type"] for e in events) == ["payment.settled", "refund.settled", "refund.settled"]
    signed = sandbox.signed(events[0]["id"])
    now = int(signed["headers"][webhooks.TIMESTAMP_HEADER])
    body = signed["body"].encode()
    headers = signed["headers"]
    assert (
        webhooks.verify(WEBHOOK_SECRET, headers=headers, body=body, now=now, tolerance_seconds=300) == events[0]["id"]
    )
    with pytest.raises(webhooks.BadWebhook):
        webhooks.verify(
            "whsec_" + base64.b64encode(b"x" * 32).decode(), headers=headers, body=body, now=now, tolerance_seconds=300
        )


def test_standard_webhooks_known_answer() -> None:
    """The example of the Standard Webhooks specification, so other implementations agree with ours."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = webhooks.sign(secret, event_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body)
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer sk_test_wrong"}, 401),
        ({"Authorization": f"Bearer {SANDBOX_KEY}"}, 400),  # no Idempotency-Key
    ],
)
def test_the_api_key_and_an_idempotency_key_are_required(
    sandbox: Sandbox, headers: dict[str, str], status: int
) -> None:
    answer = httpx.post(sandbox.url + "/v1/payments", json=_payment(), headers=headers, trust_env=False)
    assert answer.status_code == status


def test_malformed_bodies_are_400(sandbox: Sandbox) -> None:
    for body in (
        _payment(amount=0),
        _payment(amount="1"),
        _payment(number="42abc"),
        {"amount": 1},
        _payment() | {"x": 1},
    ):
        assert sandbox.post("/v1/payments", body, key="m").status_code == 400


def test_the_sandbox_runs_as_its_own_process_and_the_platform_pays_through_it(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, settings: Settings, tmp_path: Path
) -> None:
    """``python -m openmyna.portal.payments.sandbox`` on loopback, with the key the platform derives itself."""
    port = free_port()
    env = os.environ | {
        "OPENMYNA_DATA_KEY": str(settings.data_key.get_secret_value() if settings.data_key else ""),
        "OPENMYNA_VAR_DIR": str(tmp_path / "acquirer"),
        "OPENMYNA_BASE_URL": "http://127.0.0.1:9",  # webhooks go nowhere here; their delivery is tested elsewhere
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "openmyna.portal.payments.sandbox", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        setup.configure(pay_client.app, PaymentSettings(acquirer_url=url, sandbox=False))  # type: ignore[arg-type]
        made = create(pay_client, town_headers, request_body(resident_id)).json()
        log_in(pay_client, resident_id=resident_id)
        paid = pay(pay_client, made["id"], pay_form(pay_client, made["id"]))
        assert paid.status_code == 303, paid.text
        status = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()
        assert status["status"] == "paid"
    finally:
        process.terminate()
        process.wait(timeout=15)
