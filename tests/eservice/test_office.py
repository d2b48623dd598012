"""The back office through HTTP: the queue, an item with its signature checked, fetching over the network,
the correction loop end to end, approval reaching the resident's notices, refusals, the pull API, reminders."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit
from openmyna.core.crypto import KeyRing
from openmyna.eservice import office, reminders
from openmyna.eservice.models import Application, ApplicationItem
from openmyna.eservice.office_models import ItemFetch
from openmyna.localtax import service as localtax
from openmyna.network.models import ExchangeRecord
from openmyna.orgs import service as orgs
from openmyna.portal.notices.models import Notice, NoticeMessage
from tests.conftest import bearer_for
from tests.eservice.conftest import CHILD_ALLOWANCE, MUNICIPALITY, Applicant, body_for, example
from tests.orgs.web import PASSWORD, csrf_of, log_in
from tests.portal.sessions import log_in as resident_log_in

STATUS_REPORT = "child-support-status-report"


@pytest.fixture
def reviewers(db: Session, town) -> None:
    for username, department in (("kodomo", "kodomo-shien"), ("kumin", "kuminka")):
        orgs.add_staff(
            db, org_code=MUNICIPALITY, username=username, password=PASSWORD, display_name=username, role="clerk"
        )
        office.assign(db, org_code=MUNICIPALITY, username=username, department=department)
    db.commit()


def _submit(client: TestClient, parent: Applicant, form: dict | None = None) -> str:  # type: ignore[type-arg]
    done = client.post(
        "/api/eservice/applications",
        json=body_for(client, parent.reader, data={CHILD_ALLOWANCE: form or example(client)}),
    )
    assert done.status_code == 201, done.text
    return done.json()["receipt_number"]


def _item(db: Session, receipt: str) -> ApplicationItem:
    db.expire_all()
    application = db.scalar(select(Application).where(Application.receipt_number == receipt))
    assert application is not None
    return application.items[0]


def _notices(db: Session, subject: str) -> list[str]:
    db.expire_all()
    query = (
        select(NoticeMessage.title).join(Notice, Notice.message_id == NoticeMessage.id).where(Notice.subject == subject)
    )
    return list(db.scalars(query.order_by(Notice.id)))


def _post(client: TestClient, path: str, page: str, **form: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf": csrf_of(client, page), **form}, follow_redirects=False)


def test_review_fetch_return_correct_and_approve(
    client: TestClient, db: Session, applicant: Callable[..., Applicant], reviewers: None
) -> None:
    parent = applicant(children=("2016-05-05", "2024-01-10"))
    localtax.record_assessment(
        db, resident_id=parent.resident_id, assessment=localtax.assess(fiscal_year=2026, income=4_000_000, dependants=2)
    )
    db.commit()
    receipt = _submit(client, parent)
    staff = TestClient(client.app)
    assert log_in(staff, "kodomo").status_code == 303
    queue = staff.get("/staff/eservice")
    assert queue.status_code == 200 and receipt in queue.text
    item = _item(db, receipt)
    page = f"/staff/eservice/items/{item.id}"
    opened = staff.get(page)
    assert opened.status_code == 200
    assert 'data-verified="yes"' in opened.text and re.search(r'id="status-at-signing">good<', opened.text)
    subject = parent.subject(db)
    assert {"eservice.review", "jpki.validity_check"} <= {e.action for e in audit.events_for(db, subject)}
    # fetch: the town asks the network for the tax and resident records, recorded as exchanges
    before = db.query(ExchangeRecord).count()
    assert _post(staff, f"{page}/fetch", page).status_code == 303
    db.expire_all()
    fetched = {f.data_item: f.result for f in db.scalars(select(ItemFetch).where(ItemFetch.item_id == item.id))}
    assert fetched == {"local_tax": "answered", "resident_record": "answered"}
    assert db.query(ExchangeRecord).count() == before + 4  # two exchanges, each recorded for both sides
    shown = staff.get(page)
    assert 'data-monthly="25000"' in shown.text  # 2016 child in primary school 10,000 + under three 15,000
    # a return needs a reason
    refused = _post(staff, f"{page}/decide", page, decision="return", reason="")
    assert refused.status_code == 400 and 'id="problem"' in refused.text
    assert (
        _post(staff, f"{page}/decide", page, decision="return", reason="口座番号の桁数が足りません").status_code == 303
    )
    assert _item(db, receipt).status == "returned"
    titles = _notices(db, subject)
    assert titles and "補正" in titles[-1]
    # the resident sees the notice with a link to correct the form
    resident = TestClient(client.app)
    resident_log_in(resident, resident_id=parent.resident_id)
    inbox = resident.get("/portal/notices")
    assert "補正" in inbox.text
    notice_id = db.scalar(select(Notice.id).where(Notice.subject == subject).order_by(Notice.id.desc()))
    notice = resident.get(f"/portal/notices/{notice_id}")
    assert "口座番号の桁数が足りません" in notice.text and "/eservice/apply/131016?draft=" in notice.text
    # corrected and sent again: the returned item is superseded, the new one is in the queue
    corrected = example(client) | {"bank_account": "みずほ銀行 飯田橋支店 普通 1234567-8"}
    second = _submit(client, parent, corrected)
    assert _item(db, receipt).status == "withdrawn"
    new_item = _item(db, second)
    assert second in staff.get("/staff/eservice").text and receipt not in staff.get("/staff/eservice").text
    new_page = f"/staff/eservice/items/{new_item.id}"
    staff.get(new_page)
    _post(staff, f"{new_page}/fetch", new_page)
    assert _post(staff, f"{new_page}/decide", new_page, decision="approve").status_code == 303
    assert _item(db, second).status == "approved" and "25,000" in _item(db, second).decision_reason
    assert "承認" in _notices(db, subject)[-1]
    # decided: no second decision
    again = _post(staff, f"{new_page}/decide", new_page, decision="reject", reason="x")
    assert again.status_code == 409


def test_staff_of_another_department_is_refused(
    client: TestClient, db: Session, applicant: Callable[..., Applicant], reviewers: None
) -> None:
    parent = applicant()
    receipt = _submit(client, parent)
    item = _item(db, receipt)
    other = TestClient(client.app)
    log_in(other, "kumin")
    assert receipt not in other.get("/staff/eservice").text
    assert other.get(f"/staff/eservice/items/{item.id}").status_code == 403
    refused = other.post(
        f"/staff/eservice/items/{item.id}/decide",
        data={"csrf": csrf_of(other, "/staff/eservice"), "decision": "approve"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert _item(db, receipt).status == "submitted"
    assert "eservice.review.refused" in {e.action for e in audit.events_for(db, parent.subject(db))}
    anonymous = TestClient(client.app)
    assert anonymous.get("/staff/eservice", follow_redirects=False).status_code == 303


def test_a_viewer_assigned_to_the_department_looks_but_does_not_decide(
    client: TestClient, db: Session, applicant: Callable[..., Applicant], town
) -> None:
    orgs.add_staff(
        db, org_code=MUNICIPALITY, username="looker", password=PASSWORD, display_name="looker", role="viewer"
    )
    office.assign(db, org_code=MUNICIPALITY, username="looker", department="kodomo-shien")
    db.commit()
    receipt = _submit(client, applicant())
    item = _item(db, receipt)
    viewer = TestClient(client.app)
    log_in(viewer, "looker")
    assert viewer.get(f"/staff/eservice/items/{item.id}").status_code == 200
    refused = viewer.post(
        f"/staff/eservice/items/{item.id}/decide",
        data={"csrf": csrf_of(viewer, "/staff/eservice"), "decision": "approve"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert _item(db, receipt).status in ("submitted", "in_review")
    assert _item(db, receipt).decided_at is None


def test_municipal_system_pulls_and_decides_through_the_api(
    client: TestClient, db: Session, keys: KeyRing, applicant: Callable[..., Applicant], town, reviewers: None
) -> None:
    parent = applicant()
    receipt = _submit(client, parent)
    headers = bearer_for(client, MUNICIPALITY, town.private_key_pem)
    pulled = client.get("/api/eservice/office/items", headers=headers)
    assert pulled.status_code == 200
    (row,) = [i for i in pulled.json()["items"] if i["receipt_number"] == receipt]
    assert row["data"]["bank_account"] and "my_number" not in str(row)
    huge = client.get("/api/eservice/office/items", headers=headers, params={"after": 2**96})  # the fuzz found a 500
    assert huge.status_code == 422 and huge.headers["content-type"].startswith("application/problem+json")
    beyond_ids = client.get("/api/eservice/office/items", headers=headers, params={"after": 2**63 - 2})
    assert beyond_ids.status_code == 422  # ids are 32-bit: PostgreSQL refused the comparison (a 500)
    last = client.get("/api/eservice/office/items", headers=headers, params={"after": 2**31 - 1})
    assert last.status_code == 200 and last.json()["items"] == []
    one = client.get(f"/api/eservice/office/items/{row['item_id']}", headers=headers)
    assert one.json()["signature"]["verified"] and one.json()["signature"]["status_at_signing"] == "good"
    bad = client.post(f"/api/eservice/office/items/{row['item_id']}/decision", headers=headers, json={"decision": "x"})
    assert bad.status_code == 422
    reject = client.post(
        f"/api/eservice/office/items/{row['item_id']}/decision", headers=headers, json={"decision": "reject"}
    )
    assert reject.status_code == 400 and reject.json()["type"].endswith("eservice-reason-required")
    # another organisation (the pension office) sees none of the town's items and may not open them
    nenkin = orgs.add_organisation(db, keys=keys, code="nenkin", name="日本年金機構", kind="pension_office")
    db.commit()
    other = bearer_for(client, "nenkin", nenkin.private_key_pem)
    assert client.get("/api/eservice/office/items", headers=other).json()["items"] == []
    assert client.get(f"/api/eservice/office/items/{row['item_id']}", headers=other).status_code == 403
    # no token: 401
    assert client.get("/api/eservice/office/items").status_code == 401


def test_reminders_reach_exactly_the_residents_concerned_once(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    catalogue = client.app.state.eservice_catalogue  # type: ignore[attr-defined]
    waiting = applicant()  # a parent alone with a child: concerned
    applied = applicant()
    done = client.post(
        "/api/eservice/applications",
        json=body_for(client, applied.reader, data={STATUS_REPORT: example(client, STATUS_REPORT)}),
    )
    assert done.status_code == 201, done.text
    adult_alone = applicant(children=())
    as_of = dt.date.today().replace(month=8, day=10)
    runs = reminders.remind(db, catalogue=catalogue, municipality=MUNICIPALITY, as_of=as_of, codes=[STATUS_REPORT])
    db.commit()
    (run,) = runs
    assert run.sent == 1 and run.already_applied == 1
    assert _notices(db, waiting.subject(db)) and not _notices(db, applied.subject(db))
    assert not _notices(db, adult_alone.subject(db))
    again = reminders.remind(db, catalogue=catalogue, municipality=MUNICIPALITY, as_of=as_of, codes=[STATUS_REPORT])
    assert again[0].sent == 0 and again[0].already_reminded == 1
    # too early: the deadline is more than 30 days away
    early = as_of.replace(month=6)
    assert (
        reminders.remind(db, catalogue=catalogue, municipality=MUNICIPALITY, as_of=early, codes=[STATUS_REPORT]) == []
    )
