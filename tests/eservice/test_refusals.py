"""Every refusal of a submission (and of a back-office look) is in the resident's audit trail, through HTTP.

Each refused request writes no application row and exactly one access event for each resident it concerns
(the logged-in applicant, the signer), naming the refusal's slug and never the refused content; the
resident sees it at /portal/history/access.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.core import audit, clock
from openmyna.eservice import service
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.orgs import service as orgs
from tests.card.conftest import SIGN_PIN
from tests.conftest import bearer_for
from tests.eservice.conftest import (
    CHILD_ALLOWANCE,
    MUNICIPALITY,
    Applicant,
    body_for,
    count,
    example,
    sign_with,
    upload,
)
from tests.eservice.test_office import _item, _submit, reviewers  # noqa: F401  (fixture)
from tests.orgs.web import log_in as staff_log_in
from tests.portal.sessions import log_in
from tests.registry.test_api import assert_problem

REFUSED = service.REFUSED_ACTION
BANK = "みずほ銀行 秘密支店 普通 9999999"  # in the refused forms below: never in the record


def _events(db: Session, subject: str) -> list[audit.AccessEvent]:
    db.expire_all()
    return audit.events_for(db, subject, limit=1000)


def _refused_once(db: Session, subject: str, before: list[audit.AccessEvent], slug: str, action: str = REFUSED) -> None:
    """Since ``before``, exactly one new event of ``subject``: the refusal, naming ``slug`` and not the content."""
    new = [e for e in _events(db, subject) if e.id not in {b.id for b in before}]
    assert [e.action for e in new] == [action], [(e.action, e.purpose) for e in new]
    assert slug in new[0].purpose or action != REFUSED
    assert BANK not in new[0].purpose


def _signed(client: TestClient, reader: Any, data: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
    """A body signed by the card over exactly what is sent, as the CLI signs it (the server's ``/content``
    does not give the bytes of a submission it would refuse)."""
    uploads = [
        service.Upload(f["procedure"], f["code"], f["filename"], f["media_type"], base64.b64decode(f["content"]))
        for f in files
    ]
    content = service.content_of(service.Submission(MUNICIPALITY, list(data), data, uploads, b""))
    body = body_for(client, None, data=data, signature=sign_with(reader, content))
    return body | {"attachments": files} if files else body


def test_a_form_breaking_its_schema_is_recorded_for_the_signer(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    form = example(client) | {"kana": "やまだ", "bank_account": BANK}
    before = _events(db, subject)
    body = _signed(client, parent.reader, {CHILD_ALLOWANCE: form}, [])
    assert_problem(client.post("/api/eservice/applications", json=body), 400, "eservice-form-invalid")
    assert count(db) == 0
    _refused_once(db, subject, before, "eservice-form-invalid")


@pytest.mark.parametrize(
    ("content", "media_type"),
    [(b"%PDF-" + b"0" * 700_000, "application/pdf"), (b"GIF89a...", "image/gif")],
    ids=["too-large", "type-not-allowed"],
)
def test_a_refused_attachment_is_recorded_for_the_signer(
    client: TestClient, db: Session, applicant: Callable[..., Applicant], content: bytes, media_type: str
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    before = _events(db, subject)
    files = [upload("bank_book", content, media_type)]
    body = _signed(client, parent.reader, {CHILD_ALLOWANCE: example(client)}, files)
    assert_problem(client.post("/api/eservice/applications", json=body), 400, "eservice-attachment-refused")
    assert count(db) == 0
    _refused_once(db, subject, before, "eservice-attachment-refused")


def test_a_signature_that_does_not_verify_is_recorded_for_the_logged_in_applicant(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    log_in(client, resident_id=parent.resident_id)
    body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
    body["data"][CHILD_ALLOWANCE]["bank_account"] = BANK  # not what was signed
    before = _events(db, subject)
    assert_problem(client.post("/api/eservice/applications", json=body), 400, "eservice-bad-signature")
    assert count(db) == 0
    _refused_once(db, subject, before, "eservice-bad-signature")
    # anonymous and unverifiable: nobody is known, nothing is written
    anonymous = TestClient(client.app)
    total = len(_events(db, subject))
    assert_problem(anonymous.post("/api/eservice/applications", json=body), 400, "eservice-bad-signature")
    assert len(_events(db, subject)) == total and count(db) == 0


def test_an_authentication_certificate_signature_is_recorded_for_its_holder(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    data = {CHILD_ALLOWANCE: example(client)}
    content = service.content_of(service.Submission(MUNICIPALITY, list(data), data, [], b""))
    body = body_for(client, None, data=data, signature=sign_with(parent.reader, content, pin="1234", kind="auth"))
    before = _events(db, subject)
    assert_problem(client.post("/api/eservice/applications", json=body), 403, "eservice-signature-refused")
    assert count(db) == 0
    _refused_once(db, subject, before, "eservice-signature-refused")


def test_a_revoked_certificate_is_recorded_and_nothing_of_the_checks_is_kept(
    client: TestClient, db: Session, applicant: Callable[..., Applicant], ca_config: CaConfig
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    serial = next(c.serial for c in jpki.certificates_of(db, holder_ref=f"card:{parent.card.id}") if c.kind == "sign")
    with clock.frozen_at(dt.datetime(2026, 12, 11, 10, 0)):
        body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
    with clock.frozen_at(dt.datetime(2026, 12, 11, 10, 1)):
        jpki.revoke(db, config=ca_config, serial=serial, reason="key_compromise")
        db.commit()
    before = _events(db, subject)
    with clock.frozen_at(dt.datetime(2026, 12, 11, 10, 2)):
        assert_problem(client.post("/api/eservice/applications", json=body), 403, "eservice-signature-refused")
    assert count(db) == 0
    # the validity check and the registry look-up the refused submission made are rolled back with it
    _refused_once(db, subject, before, "eservice-signature-refused")


def test_an_expired_certificate_is_recorded(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    not_after = cards.certificate_not_after(parent.reader.certificate("sign", pin=SIGN_PIN))
    before = _events(db, subject)
    with clock.frozen_at(not_after + dt.timedelta(days=1)):
        body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
        problem = assert_problem(client.post("/api/eservice/applications", json=body), 403)
    assert count(db) == 0
    _refused_once(db, subject, before, problem["type"].rsplit("/", 1)[1])


def test_a_person_not_entitled_is_recorded(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    childless = applicant(children=())
    subject = childless.subject(db)
    before = _events(db, subject)
    body = body_for(client, childless.reader, data={CHILD_ALLOWANCE: example(client)})
    assert_problem(client.post("/api/eservice/applications", json=body), 403, "eservice-not-entitled")
    assert count(db) == 0
    _refused_once(db, subject, before, "eservice-not-entitled")


def test_an_idempotency_key_reused_is_recorded_and_a_duplicate_is_not_a_refusal(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    first = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)}, idempotency_key="k-1")
    assert client.post("/api/eservice/applications", json=first).status_code == 201
    assert client.post("/api/eservice/applications", json=first).status_code == 200  # the same: its receipt
    assert REFUSED not in {e.action for e in _events(db, subject)}
    before = _events(db, subject)
    other = example(client) | {"bank_account": BANK}
    second = body_for(client, parent.reader, data={CHILD_ALLOWANCE: other}, idempotency_key="k-1")
    assert_problem(client.post("/api/eservice/applications", json=second), 409, "eservice-idempotency-conflict")
    assert count(db) == 1
    _refused_once(db, subject, before, "eservice-idempotency-conflict")


def test_another_card_than_the_logged_in_residents_is_recorded_for_both(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    card_holder, logged_in = applicant(), applicant(family_name="佐藤")
    log_in(client, resident_id=logged_in.resident_id)
    befores = {p.subject(db): _events(db, p.subject(db)) for p in (card_holder, logged_in)}
    body = body_for(client, card_holder.reader, data={CHILD_ALLOWANCE: example(client)})
    assert_problem(client.post("/api/eservice/applications", json=body), 403, "eservice-signature-refused")
    assert count(db) == 0
    for subject, before in befores.items():
        _refused_once(db, subject, before, "eservice-signature-refused")


def test_a_refused_draft_signed_in_the_browser_is_recorded_and_shown_in_the_access_log(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    childless = applicant(children=())
    subject = childless.subject(db)
    log_in(client, resident_id=childless.resident_id)
    data = {CHILD_ALLOWANCE: example(client)}
    draft = service.save_draft(db, municipality=MUNICIPALITY, procedures=list(data), data=data, subject=subject)
    db.commit()
    csrf = re.search(r'data-csrf="([^"]+)"', client.get(f"/eservice/drafts/{draft.public_id}").text)
    assert csrf
    headers = {"X-CSRF-Token": csrf.group(1)}
    certificate = childless.reader.certificate("sign", pin=SIGN_PIN)
    prepared = client.post(
        f"/api/eservice/drafts/{draft.public_id}/prepare",
        headers=headers,
        json={"certificate": base64.b64encode(certificate).decode()},
    )
    assert prepared.status_code == 200, prepared.text
    signature = childless.reader.sign("sign", SIGN_PIN, digest=base64.b64decode(prepared.json()["digest"]))
    before = _events(db, subject)
    sent = client.post(
        f"/api/eservice/drafts/{draft.public_id}/submit",
        headers=headers,
        json={"signature": base64.b64encode(signature).decode()},
    )
    assert_problem(sent, 403, "eservice-not-entitled")
    assert count(db) == 0 and service.get_draft(db, public_id=draft.public_id, subject=subject)  # the draft stays
    _refused_once(db, subject, before, "eservice-not-entitled")
    page = client.get("/portal/history/access")
    assert page.status_code == 200 and REFUSED in page.text and "eservice-not-entitled" in page.text


def test_a_back_office_system_of_another_organisation_is_refused_and_recorded(
    client: TestClient,
    db: Session,
    applicant: Callable[..., Applicant],
    keys: Any,
    reviewers: None,  # noqa: F811
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    item = _item(db, _submit(client, parent))
    neighbour = orgs.add_organisation(db, keys=keys, code="131024", name="中央区", kind="municipality")
    db.commit()
    headers = bearer_for(client, "131024", neighbour.private_key_pem, "eservice:read")
    for method, path, body in (
        ("GET", f"/api/eservice/office/items/{item.id}", None),
        ("POST", f"/api/eservice/office/items/{item.id}/fetch", None),
        ("POST", f"/api/eservice/office/items/{item.id}/decision", {"decision": "approve"}),
    ):
        before = _events(db, subject)
        assert_problem(client.request(method, path, json=body, headers=headers), 403, "eservice-not-reviewer")
        _refused_once(db, subject, before, "", action="eservice.review.refused")
    assert _item(db, item.application.receipt_number).status == "submitted"
    # a staff member of another department, through the same API with a session
    staff = TestClient(client.app)
    staff_log_in(staff, "kumin")
    before = _events(db, subject)
    assert_problem(staff.get(f"/api/eservice/office/items/{item.id}"), 403, "eservice-not-reviewer")
    _refused_once(db, subject, before, "", action="eservice.review.refused")


def test_a_refusal_naming_many_procedures_is_recorded_within_the_purpose_column(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    subject = parent.subject(db)
    log_in(client, resident_id=parent.resident_id)
    catalogue = client.app.state.eservice_catalogue  # type: ignore[attr-defined]
    codes = sorted((e.procedure.code for e in catalogue.of(MUNICIPALITY)), key=len, reverse=True)[:10]
    body = body_for(client, None, data={code: {} for code in codes}, signature=b"not a CMS")
    before = _events(db, subject)
    assert_problem(client.post("/api/eservice/applications", json=body), 400)
    assert count(db) == 0
    new = [e for e in _events(db, subject) if e.id not in {b.id for b in before}]
    assert [e.action for e in new] == [REFUSED] and len(new[0].purpose) == service.PURPOSE_LENGTH
