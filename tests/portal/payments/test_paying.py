"""The resident pays a request once: re-authentication, CSRF, someone else's request, declines, double submits."""

from __future__ import annotations

import datetime as dt
import io

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from openmyna.core import clock, sessions
from openmyna.core.audit import events_for
from openmyna.core.db import unit_of_work
from tests.portal.payments.conftest import BIRTH, Sandbox, create, pay, pay_form, request_body
from tests.portal.sessions import log_in

HTML = {"accept": "text/html"}


def _request(client: TestClient, headers: dict[str, str], resident_id: int, **changes: object) -> dict[str, object]:
    answer = create(client, headers, request_body(resident_id, **changes))
    assert answer.status_code == 201, answer.text
    return answer.json()


def _actions(db: Session, subject: str) -> list[str]:
    return [e.action for e in events_for(db, subject, limit=1000)]


def test_a_resident_pays_once_and_sees_the_receipt_whatever_is_clicked_again(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox, db: Session
) -> None:
    made = _request(pay_client, town_headers, resident_id)
    log_in(pay_client, resident_id=resident_id)
    listing = pay_client.get("/portal/payments", headers=HTML)
    assert listing.status_code == 200 and "住民税" in listing.text and "12,300円" in listing.text

    form = pay_form(pay_client, made["id"])
    paid = pay(pay_client, made["id"], form)
    assert paid.status_code == 303, paid.text
    assert paid.headers["location"] == f"/portal/payments/{made['id']}/receipt"
    receipt = pay_client.get(paid.headers["location"])
    status = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()
    assert status["status"] == "paid" and status["receipt_number"] in receipt.text
    assert "VISA **** 4242" in receipt.text and "12,300円" in receipt.text

    # The same form again (a second click, a browser resubmit): the same receipt, no second charge.
    assert pay(pay_client, made["id"], form).headers["location"].endswith("/receipt")
    # A new form from another tab with a fresh key: already paid, still one charge.
    other = dict(form, key="another-tab-key-0123456789")
    assert pay(pay_client, made["id"], other).headers["location"].endswith("/receipt")
    charges = sandbox.payments_with_reference(f"payment-request-{made['id']}")
    assert [(c["status"], c["captured_amount"]) for c in charges] == [("captured", 12_300)]
    assert _actions(db, str(made["subject"])).count("payments.paid") == 1
    assert "支払済み" in pay_client.get("/portal/payments").text


def test_paying_needs_a_login_and_a_recent_card_authentication(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox
) -> None:
    made = _request(pay_client, town_headers, resident_id)
    anonymous = pay_client.post(f"/portal/payments/{made['id']}/pay", data={"csrf": "x"}, follow_redirects=False)
    assert anonymous.status_code == 401
    page = pay_client.get(f"/portal/payments/{made['id']}", headers=HTML, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/portal/login?next=")

    log_in(pay_client, resident_id=resident_id)
    form = pay_form(pay_client, made["id"])
    window = pay_client.app.state.settings.portal_reauth_seconds  # type: ignore[attr-defined]
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=window + 60)):
        stale = pay(pay_client, made["id"], form)
        assert stale.status_code == 401
        assert "もう一度本人確認" in stale.text and "/portal/reauth?next=" in stale.text
        assert 'name="card_number"' not in pay_client.get(f"/portal/payments/{made['id']}").text
    assert sandbox.payments_with_reference(f"payment-request-{made['id']}") == []
    status = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()
    assert status["status"] == "open"


def test_a_forged_form_or_someone_elses_request_is_refused(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox
) -> None:
    made = _request(pay_client, town_headers, resident_id)
    other = pay_client.post(
        "/api/registry/residents",
        json=BIRTH | {"given_name": "次郎", "given_name_kana": "ジロウ"},
        headers=town_headers,
    )
    log_in(pay_client, resident_id=resident_id)
    form = pay_form(pay_client, made["id"])
    forged = pay(pay_client, made["id"], dict(form, csrf="not-the-token"))
    assert forged.status_code == 403
    missing = pay(pay_client, made["id"], {k: v for k, v in form.items() if k != "csrf"})
    assert missing.status_code == 403

    log_in(pay_client, resident_id=int(other.json()["id"]))
    assert pay_client.get(f"/portal/payments/{made['id']}").status_code == 404
    assert pay_client.get(f"/portal/payments/{made['id']}/receipt").status_code == 404
    theirs = dict(form, csrf=_csrf_of(pay_client))  # a valid form of the other resident's session
    assert pay(pay_client, made["id"], theirs).status_code == 404
    assert made["purpose"] not in pay_client.get("/portal/payments").text
    assert sandbox.payments_with_reference(f"payment-request-{made['id']}") == []


def _csrf_of(client: TestClient) -> str:
    """The CSRF token of the newest portal session (the one ``log_in`` just started)."""
    app = client.app
    with unit_of_work(app.state.session_factory) as session:  # type: ignore[attr-defined]
        row = session.query(sessions.WebSession).order_by(sessions.WebSession.id.desc()).first()
        assert row is not None
        return row.csrf


def test_a_declined_card_pays_nothing_and_another_card_then_pays(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox, db: Session
) -> None:
    made = _request(pay_client, town_headers, resident_id)
    log_in(pay_client, resident_id=resident_id)
    for number, code, reason in [
        ("4000000000000002", "card_declined", "カード会社により承認されませんでした"),
        ("4000000000009995", "insufficient_funds", "ご利用可能額が不足しています"),
    ]:
        declined = pay(pay_client, made["id"], pay_form(pay_client, made["id"], card_number=number))
        assert declined.status_code == 402
        assert "カードでのお支払いができませんでした" in declined.text
        assert reason in declined.text and f"[{code}]" in declined.text
    english = pay_client.post(
        f"/portal/payments/{made['id']}/pay?lang=en",
        data=pay_form(pay_client, made["id"], card_number="4000000000000069"),
    )
    assert english.status_code == 402 and "The card was declined (The card has expired [expired_card])" in english.text
    assert pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()["status"] == "open"
    paid = pay(pay_client, made["id"], pay_form(pay_client, made["id"], card_number="5555555555554444"))
    assert paid.status_code == 303
    charges = sandbox.payments_with_reference(f"payment-request-{made['id']}")
    assert sorted(c["status"] for c in charges) == ["captured", "declined", "declined", "declined"]
    actions = _actions(db, str(made["subject"]))
    assert actions.count("payments.declined") == 3 and actions.count("payments.paid") == 1


def test_malformed_card_input_is_refused_before_the_acquirer(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, sandbox: Sandbox
) -> None:
    made = _request(pay_client, town_headers, resident_id)
    log_in(pay_client, resident_id=resident_id)
    form = pay_form(pay_client, made["id"])
    for change in (
        {"card_number": "4242-abcd-4242-4242"},
        {"card_number": "1234"},
        {"exp_month": "13"},
        {"exp_year": "999"},
        {"cvc": "12a"},
        {"key": "short"},
    ):
        answer = pay(pay_client, made["id"], dict(form, **change))
        assert answer.status_code == 400, (change, answer.status_code)
        assert 'role="alert"' in answer.text
    for change in ({"card_number": "4" * 33}, {"cvc": "12345"}, {"key": "k" * 65}):
        assert pay(pay_client, made["id"], dict(form, **change)).status_code == 422
    assert pay(pay_client, 2**31, form).status_code == 422
    assert sandbox.payments_with_reference(f"payment-request-{made['id']}") == []


def test_the_receipt_is_also_a_pdf_only_its_owner_opens(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int
) -> None:
    made = _request(pay_client, town_headers, resident_id, amount=7_700, purpose="印鑑登録証明書 交付手数料")
    log_in(pay_client, resident_id=resident_id)
    assert pay_client.get(f"/portal/payments/{made['id']}/receipt.pdf").status_code == 404  # not paid yet
    assert pay(pay_client, made["id"], pay_form(pay_client, made["id"])).status_code == 303
    pdf = pay_client.get(f"/portal/payments/{made['id']}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    number = pay_client.get(f"/api/payments/requests/{made['id']}", headers=town_headers).json()["receipt_number"]
    for expected in (number, "¥7,700-", "印鑑登録証明書 交付手数料", "千代田区", "VISA **** 4242"):
        assert expected in text, (expected, text)

    other = pay_client.post(
        "/api/registry/residents",
        json=BIRTH | {"given_name": "三郎", "given_name_kana": "サブロウ"},
        headers=town_headers,
    )
    log_in(pay_client, resident_id=int(other.json()["id"]))
    assert pay_client.get(f"/portal/payments/{made['id']}/receipt.pdf").status_code == 404
