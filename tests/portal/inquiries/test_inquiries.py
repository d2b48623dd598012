"""FAQ and the inquiry form: CSRF, size limits and clear errors; submissions reach the staff inbox."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core.audit import events_for
from openmyna.orgs import service as orgs
from openmyna.portal.inquiries.models import Inquiry
from tests.orgs.web import PASSWORD
from tests.orgs.web import log_in as staff_log_in
from tests.portal.sessions import log_in
from tests.portal.world import csrf_of, person, subject_of

FORM = {"topic": "notices", "title": "お知らせが読めません", "body": "一覧から開くと\n白い画面になります。"}


def _count(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(Inquiry)) or 0)


def test_faq_in_both_languages(client: TestClient) -> None:
    ja = client.get("/portal/faq")
    assert ja.status_code == 200 and "よくある質問" in ja.text and 'href="/portal/inquiries/new"' in ja.text
    assert "Frequently asked questions" in client.get("/portal/faq?lang=en").text


def test_an_inquiry_reaches_the_staff_inbox(client: TestClient, town, town_headers, db: Session) -> None:
    resident = person(client, town_headers)
    log_in(client, resident_id=resident["id"])
    csrf = csrf_of(client, "/portal/inquiries/new")
    sent = client.post("/portal/inquiries", data={**FORM, "reply_email": "taro@example.jp", "csrf": csrf})
    assert sent.status_code == 201 and 'id="inquiry-reference"' in sent.text
    reference = re.search(r'id="inquiry-reference">(\d+)<', sent.text)
    assert reference

    staff = TestClient(client.app)
    assert staff.get("/staff/inquiries", follow_redirects=False).status_code == 303
    orgs.add_staff(db, org_code="131016", username="clerk", password=PASSWORD, display_name="窓口", role="clerk")
    db.commit()
    assert staff_log_in(staff).status_code == 303
    inbox = staff.get("/staff/inquiries")
    assert inbox.status_code == 200 and "お知らせが読めません" in inbox.text
    detail = staff.get(f"/staff/inquiries/{reference.group(1)}")
    assert detail.status_code == 200 and "白い画面になります。" in detail.text and "taro@example.jp" in detail.text
    events = [e for e in events_for(db, subject_of(db, resident["id"])) if e.action == "inquiry.read"]
    assert len(events) == 1 and events[0].actor == "staff:clerk"
    csrf = re.search(r'name="csrf" value="([^"]+)"', detail.text).group(1)  # type: ignore[union-attr]
    assert staff.post(f"/staff/inquiries/{reference.group(1)}/handled", data={"csrf": "x"}).status_code == 403
    done = staff.post(f"/staff/inquiries/{reference.group(1)}/handled", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert "お知らせが読めません" not in staff.get("/staff/inquiries").text
    assert "お知らせが読めません" in staff.get("/staff/inquiries?handled=true").text
    assert staff.get("/staff/inquiries/999999").status_code == 404


def test_refusals_are_clear_and_store_nothing(client: TestClient) -> None:
    csrf = csrf_of(client, "/portal/inquiries/new")  # anonymous: the token lives in the signed cookie
    assert client.post("/portal/inquiries", data=FORM).status_code == 403
    assert client.post("/portal/inquiries", data={**FORM, "csrf": "forged"}).status_code == 403
    cases = [
        ({"title": ""}, "inquiries.error.required", "入力してください"),
        ({"title": "あ" * 101}, "", "長すぎます"),
        ({"body": "あ" * 2001}, "", "2000"),
        ({"body": "制御\x1b文字"}, "", "使えない文字"),
        ({"topic": "complaint"}, "", "分類を一覧から選んでください"),
        ({"reply_email": "not-an-address"}, "", "メールアドレスの形式"),
    ]
    for change, _key, words in cases:
        page = client.post("/portal/inquiries", data={**FORM, **change, "csrf": csrf})
        assert page.status_code == 422 and 'id="inquiry-errors"' in page.text and words in page.text, change
    english = client.post("/portal/inquiries?lang=en", data={**FORM, "title": "", "csrf": csrf})
    assert english.status_code == 422 and "this is required" in english.text
    oversized = client.post("/portal/inquiries", data={**FORM, "body": "あ" * 20_001, "csrf": csrf})
    assert oversized.status_code == 422
    huge = client.post(
        "/portal/inquiries",
        content=b"body=" + b"a" * (2 << 20),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413


def test_nothing_was_stored_by_refusals(client: TestClient, db: Session) -> None:
    csrf = csrf_of(client, "/portal/inquiries/new")
    client.post("/portal/inquiries", data={**FORM, "title": "", "csrf": csrf})
    client.post("/portal/inquiries", data=FORM)
    assert _count(db) == 0
    assert client.post("/portal/inquiries", data={**FORM, "csrf": csrf}).status_code == 201  # anonymous is fine
    assert _count(db) == 1
