"""Pay-easy: numbers issued once per form, the bank's payment reported by a signed webhook makes the receipt."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.audit import events_for
from tests.portal.payments.conftest import Sandbox, create, pay, pay_form, request_body
from tests.portal.sessions import log_in


def _numbers(page: str) -> dict[str, str]:
    found = {
        name: re.search(rf'id="payeasy-{name}">([0-9]+)<', page) for name in ("institution", "customer", "confirmation")
    }
    assert all(found.values()), "no Pay-easy numbers on the page"
    return {name: match.group(1) for name, match in found.items() if match}


def _bank(sandbox: Sandbox, numbers: dict[str, str], amount: int, key: str, **changes: str) -> int:
    body = {
        "institution_number": numbers["institution"],
        "customer_number": numbers["customer"],
        "confirmation_number": numbers["confirmation"],
        "amount": amount,
    } | changes
    return sandbox.post("/v1/test_helpers/payeasy/bank_payment", body, key=key).status_code


def test_payeasy_numbers_then_the_banks_payment_settles_the_request_once(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox, db: Session
) -> None:
    made = create(pay_client, town_headers, request_body(resident_id, kind="fee", amount=300)).json()
    log_in(pay_client, resident_id=resident_id)
    form = pay_form(pay_client, made["id"])
    issued = pay_client.post(
        f"/portal/payments/{made['id']}/payeasy",
        data={"csrf": form["csrf"], "key": form["key"]},
        follow_redirects=False,
    )
    assert issued.status_code == 303
    page = pay_client.get(f"/portal/payments/{made['id']}").text
    numbers = _numbers(page)
    assert numbers["institution"] == "58091" and len(numbers["customer"]) == 16
    assert 'name="card_number"' not in page

    again = pay_client.post(
        f"/portal/payments/{made['id']}/payeasy",
        data={"csrf": form["csrf"], "key": form["key"]},
        follow_redirects=False,
    )
    assert again.status_code == 303 and _numbers(pay_client.get(f"/portal/payments/{made['id']}").text) == numbers
    card = pay(pay_client, made["id"], dict(form, key="a-card-form-key-0123456789"))
    assert card.status_code == 409 and "ペイジーの支払番号を発行済み" in card.text
    assert len(sandbox.payments_with_reference(f"payment-request-{made['id']}")) == 1

    assert _bank(sandbox, numbers, 300, "b1", confirmation_number="000000") == 404
    assert _bank(sandbox, numbers, 299, "b2") == 400
    assert pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()["status"] == "open"
    assert _bank(sandbox, numbers, 300, "b3") == 200
    assert _bank(sandbox, numbers, 300, "b4") == 409  # the same numbers cannot be paid twice

    (charge,) = sandbox.payments_with_reference(f"payment-request-{made['id']}")
    (event,) = sandbox.events_for(str(charge["id"]))
    signed = sandbox.signed(event["id"])
    headers = signed["headers"] | {"content-type": "application/json"}
    first = pay_client.post("/api/payments/webhooks", content=signed["body"].encode(), headers=headers)
    assert first.json() == {"applied": True}
    retried = pay_client.post("/api/payments/webhooks", content=signed["body"].encode(), headers=headers)
    assert retried.json() == {"applied": False}

    status = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()
    assert status["status"] == "paid" and status["settled_at"] and status["receipt_number"]
    receipt = pay_client.get(f"/portal/payments/{made['id']}/receipt").text
    assert status["receipt_number"] in receipt and "ペイジー" in receipt
    actions = [e.action for e in events_for(db, made["subject"], limit=1000)]
    assert actions.count("payments.payeasy_issued") == 1 and actions.count("payments.paid") == 1


def test_an_amount_over_the_payeasy_limit_is_declined(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int
) -> None:
    made = create(pay_client, town_headers, request_body(resident_id, amount=10_000_000)).json()
    log_in(pay_client, resident_id=resident_id)
    form = pay_form(pay_client, made["id"])
    declined = pay_client.post(
        f"/portal/payments/{made['id']}/payeasy", data={"csrf": form["csrf"], "key": form["key"]}
    )
    assert declined.status_code == 402 and "amount_over_limit" in declined.text
    assert 'name="card_number"' in pay_client.get(f"/portal/payments/{made['id']}").text  # a card still can


def test_the_card_form_and_the_payeasy_form_of_one_page_never_both_pay(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox
) -> None:
    """Both forms of a page carry one key: whichever is submitted first owns it, the other is refused."""
    made = create(pay_client, town_headers, request_body(resident_id)).json()
    log_in(pay_client, resident_id=resident_id)
    form = pay_form(pay_client, made["id"])
    numbers = pay_client.post(
        f"/portal/payments/{made['id']}/payeasy",
        data={"csrf": form["csrf"], "key": form["key"]},
        follow_redirects=False,
    )
    assert numbers.status_code == 303
    card = pay(pay_client, made["id"], form)  # the card form of the same page, e.g. in a second tab
    assert card.status_code == 409
    assert [c["method"] for c in sandbox.payments_with_reference(f"payment-request-{made['id']}")] == ["payeasy"]

    other = create(pay_client, town_headers, request_body(resident_id, purpose="別の依頼")).json()
    form = pay_form(pay_client, other["id"])
    assert pay(pay_client, other["id"], form).status_code == 303
    late = pay_client.post(
        f"/portal/payments/{other['id']}/payeasy",
        data={"csrf": form["csrf"], "key": form["key"]},
        follow_redirects=False,
    )
    assert late.status_code in (303, 409)
    assert late.status_code == 409 or late.headers["location"].endswith("/receipt")
    charges = sandbox.payments_with_reference(f"payment-request-{other['id']}")
    assert [(c["method"], c["status"]) for c in charges] == [("card", "captured")]
