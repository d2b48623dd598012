"""The pension one-click exemption: the offer as a notice with a filled-in draft, one signature from the
resident, the pension office's income check over the network and its decision as a notice."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.eservice import office, reminders
from openmyna.eservice.models import ApplicationItem
from openmyna.eservice.office_models import ItemFetch
from openmyna.localtax import service as localtax
from openmyna.orgs import service as orgs
from openmyna.portal.notices.models import Notice, NoticeMessage
from tests.card.conftest import SIGN_PIN
from tests.eservice.conftest import MUNICIPALITY, Applicant
from tests.orgs.web import PASSWORD, csrf_of, log_in
from tests.portal.sessions import log_in as resident_log_in


def _titles(db: Session, subject: str) -> list[tuple[str, str]]:
    db.expire_all()
    query = select(NoticeMessage.title, NoticeMessage.sender_org).join(Notice, Notice.message_id == NoticeMessage.id)
    return [tuple(r) for r in db.execute(query.where(Notice.subject == subject).order_by(Notice.id))]  # type: ignore[misc]


def test_offer_one_signature_and_the_pension_office_decides(
    client: TestClient, db: Session, keys: KeyRing, applicant: Callable[..., Applicant], town
) -> None:
    catalogue = client.app.state.eservice_catalogue  # type: ignore[attr-defined]
    orgs.add_organisation(db, keys=keys, code="nenkin", name="日本年金機構", kind="pension_office")
    orgs.add_staff(
        db, org_code="nenkin", username="nenkin1", password=PASSWORD, display_name="年金事務所", role="clerk"
    )
    office.assign(db, org_code="nenkin", username="nenkin1", department="hoken-nenkin")
    person = applicant(children=())
    rich = applicant(children=())
    year = dt.date.today().year
    localtax.record_assessment(
        db, resident_id=person.resident_id, assessment=localtax.assess(fiscal_year=year, income=400_000, dependants=0)
    )
    localtax.record_assessment(
        db, resident_id=rich.resident_id, assessment=localtax.assess(fiscal_year=year, income=5_000_000, dependants=0)
    )
    db.commit()
    offer = dict(catalogue=catalogue, municipality=MUNICIPALITY)
    assert reminders.offer_pension_exemption(db, resident_id=rich.resident_id, **offer) is None  # income too high
    draft_id = reminders.offer_pension_exemption(db, resident_id=person.resident_id, **offer)
    assert draft_id is not None
    assert reminders.offer_pension_exemption(db, resident_id=person.resident_id, **offer) is None  # once a period
    db.commit()
    subject = person.subject(db)
    assert "ワンクリック" in _titles(db, subject)[-1][0] and not _titles(db, rich.subject(db))
    # one step from the notice: the draft is filled in; the resident signs it with the card
    resident = TestClient(client.app)
    resident_log_in(resident, resident_id=person.resident_id)
    notice_id = db.scalar(select(Notice.id).where(Notice.subject == subject))
    assert f"/eservice/drafts/{draft_id}" in resident.get(f"/portal/notices/{notice_id}").text
    sign_page = resident.get(f"/eservice/drafts/{draft_id}")
    assert sign_page.status_code == 200
    csrf = re.search(r'data-csrf="([^"]+)"', sign_page.text)
    assert csrf
    headers = {"X-CSRF-Token": csrf.group(1)}
    certificate = person.reader.certificate("sign", pin=SIGN_PIN)
    prepared = resident.post(
        f"/api/eservice/drafts/{draft_id}/prepare",
        headers=headers,
        json={"certificate": base64.b64encode(certificate).decode()},
    )
    assert prepared.status_code == 200, prepared.text
    signature = person.reader.sign("sign", SIGN_PIN, digest=base64.b64decode(prepared.json()["digest"]))
    sent = resident.post(
        f"/api/eservice/drafts/{draft_id}/submit",
        headers=headers,
        json={"signature": base64.b64encode(signature).decode()},
    )
    assert sent.status_code in (200, 201), sent.text
    item = db.scalar(select(ApplicationItem).where(ApplicationItem.procedure_code == reminders.PENSION_PROCEDURE))
    assert item is not None
    # the town's staff do not see it: the pension office decides
    assert office.deciding_org(db, item, item.application) == "nenkin"
    staff = TestClient(client.app)
    log_in(staff, "nenkin1")
    page = f"/staff/eservice/items/{item.id}"
    assert item.application.receipt_number in staff.get("/staff/eservice").text
    assert staff.get(page).status_code == 200
    staff.post(f"{page}/fetch", data={"csrf": csrf_of(staff, page)}, follow_redirects=False)
    db.expire_all()
    fetched = db.scalars(select(ItemFetch).where(ItemFetch.item_id == item.id)).all()
    assert [(f.requester, f.data_item, f.result) for f in fetched] == [("nenkin", "local_tax", "answered")]
    assert 'data-qualifies="yes"' in staff.get(page).text
    decided = staff.post(
        f"{page}/decide", data={"csrf": csrf_of(staff, page), "decision": "approve"}, follow_redirects=False
    )
    assert decided.status_code == 303
    assert _titles(db, subject)[-1] == (
        f"{catalogue.get(MUNICIPALITY, reminders.PENSION_PROCEDURE).procedure.name_ja}: 承認されました",
        "nenkin",
    )
