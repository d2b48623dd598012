"""Account settings: the e-mail link (signed, expiring, single-use), nickname, preferences, CSRF, bad input."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.audit import events_for
from openmyna.portal.settings.models import AccountSettings, EmailVerification
from tests.live import free_port
from tests.portal.sessions import log_in
from tests.portal.world import Sink, ask_verification, csrf_of, person, subject_of, verification_link, verify_email


def _resident(client: TestClient, headers) -> dict:
    resident = person(client, headers)
    log_in(client, resident_id=resident["id"])
    return resident


def test_the_page_links_the_other_settings(client: TestClient, town_headers) -> None:
    _resident(client, town_headers)
    page = client.get("/portal/settings")
    assert page.status_code == 200
    for href in ("/portal/linked-sites", "/portal/settings/logins", "/portal/notices/delivery"):
        assert f'href="{href}"' in page.text
    english = client.get("/portal/settings?lang=en")
    assert "Account settings" in english.text and "E-mail address" in english.text


def test_a_link_verifies_once(client: TestClient, town_headers, smtp_sink: Sink, db: Session) -> None:
    resident = _resident(client, town_headers)
    assert ask_verification(client, "Taro@Example.JP").status_code == 303
    mail = smtp_sink.to("Taro@example.jp")[-1]
    assert "確認" in str(mail["Subject"]) and resident["my_number"] not in smtp_sink.text(mail)
    assert "Taro@example.jp" in client.get("/portal/settings").text  # waiting for confirmation, not yet verified
    link = verification_link(smtp_sink, "Taro@example.jp")
    client.cookies.clear()  # the link works without a login (it may be opened on a phone)
    first = client.get(link)
    assert first.status_code == 200 and "verify-ok" in first.text
    second = client.get(link)
    assert second.status_code == 410 and "使用済み" in second.text
    settings = db.get(AccountSettings, subject_of(db, resident["id"]))
    assert settings is not None and settings.email == "Taro@example.jp" and settings.email_verified_at is not None
    assert any(e.purpose == "email-verified" for e in events_for(db, subject_of(db, resident["id"])))


def test_expired_tampered_and_superseded_links(client: TestClient, town_headers, smtp_sink: Sink, db: Session) -> None:
    resident = _resident(client, town_headers)
    ask_verification(client, "old@example.jp")
    old = verification_link(smtp_sink, "old@example.jp")
    ask_verification(client, "new@example.jp")
    new = verification_link(smtp_sink, "new@example.jp")
    assert client.get(old).status_code == 410  # a newer link replaced it
    tampered = new[:-3] + ("AAA" if not new.endswith("AAA") else "BBB")
    assert client.get(tampered).status_code == 400
    assert client.get("/portal/settings/email/verify?token=").status_code == 400
    assert client.get("/portal/settings/email/verify?token=" + "x" * 600).status_code == 422
    with clock.frozen_at(clock.now() + dt.timedelta(days=1, seconds=1)):
        expired = client.get(new)
    assert expired.status_code == 410 and "有効期限" in expired.text
    settings = db.get(AccountSettings, subject_of(db, resident["id"]))
    assert settings is None or not settings.email_verified_at


def test_refusals_change_nothing(client: TestClient, town_headers, smtp_sink: Sink, db: Session) -> None:
    resident = _resident(client, town_headers)
    csrf = csrf_of(client, "/portal/settings")
    assert client.post("/portal/settings/email", data={"email": "a@example.jp"}).status_code == 403
    assert client.post("/portal/settings/email", data={"email": "a@example.jp", "csrf": "forged"}).status_code == 403
    assert client.post("/portal/settings/nickname", data={"nickname": "たろう"}).status_code == 403
    for bad in ("not-an-address", "a@b", "a b@example.jp", "x" * 250 + "@example.jp", "a@example.jp\x00"):
        page = client.post("/portal/settings/email", data={"email": bad, "csrf": csrf})
        assert page.status_code == 400 and 'id="settings-error"' in page.text, bad
    assert client.post("/portal/settings/email", data={"email": "x" * 1001, "csrf": csrf}).status_code == 422
    assert client.post("/portal/settings/nickname", data={"nickname": "あ" * 41, "csrf": csrf}).status_code == 400
    assert client.post("/portal/settings/nickname", data={"nickname": "a\u0007b", "csrf": csrf}).status_code == 400
    refused = client.post("/portal/settings/notifications", data={"kinds": ["spam"], "csrf": csrf})
    assert refused.status_code == 400
    assert len(smtp_sink.messages) == 0
    assert db.scalar(select(func.count()).select_from(EmailVerification)) == 0
    assert db.get(AccountSettings, subject_of(db, resident["id"])) is None

    saved = client.post("/portal/settings/nickname", data={"nickname": "たろう", "csrf": csrf}, follow_redirects=False)
    assert saved.status_code == 303 and 'value="たろう"' in client.get("/portal/settings").text

    client.cookies.clear()
    page = client.get("/portal/settings", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/portal/login?next=%2Fportal%2Fsettings"


def test_an_smtp_failure_keeps_no_link(client: TestClient, town_headers, smtp_sink: Sink, db: Session) -> None:
    _resident(client, town_headers)
    client.app.state.settings = client.app.state.settings.model_copy(update={"smtp_port": free_port()})
    page = ask_verification(client, "taro@example.jp")
    assert page.status_code == 503 and 'id="settings-error"' in page.text
    assert db.scalar(select(func.count()).select_from(EmailVerification)) == 0


def test_removing_the_address(client: TestClient, town_headers, smtp_sink: Sink, db: Session) -> None:
    resident = _resident(client, town_headers)
    verify_email(client, smtp_sink, "taro@example.jp")
    csrf = csrf_of(client, "/portal/settings")
    assert client.post("/portal/settings/email/remove", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    db.expire_all()
    settings = db.get(AccountSettings, subject_of(db, resident["id"]))
    assert settings is not None and settings.email == "" and settings.email_verified_at is None
