"""The eservice API through HTTP: search, signed submission, and every refusal leaving nothing behind."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.core import audit, clock
from openmyna.eservice.models import Application, ApplicationItem, StatusChange
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from tests.eservice.conftest import CHILD_ALLOWANCE, MUNICIPALITY, Applicant, body_for, count, example, upload
from tests.portal.sessions import log_in
from tests.registry.test_api import assert_problem

PDF = b"%PDF-1.7\n" + b"0" * 100


def test_search_by_situation_says_which_attachments_are_fetched(client: TestClient) -> None:
    found = client.get(
        "/api/eservice/search", params={"municipality": MUNICIPALITY, "situation": "birth", "age": 35, "child_age": 0}
    )
    assert found.status_code == 200
    results = {r["code"]: r for r in found.json()["results"]}
    assert CHILD_ALLOWANCE in results and "childcare-certification" in results
    assert "pregnancy-notification" not in results  # another situation
    needs = {n["code"]: n for n in results[CHILD_ALLOWANCE]["needs"]}
    assert needs["tax_certificate"]["fetched"] and not needs["tax_certificate"]["required"]
    assert "地方税関係情報" in needs["tax_certificate"]["reason_ja"]
    assert needs["resident_copy"]["fetched"] and not needs["bank_book"]["fetched"]
    # a facts filter: nobody without a child under 19 gets the child allowance
    none = client.get(
        "/api/eservice/search", params={"municipality": MUNICIPALITY, "situation": "birth", "child_age": 25}
    )
    assert CHILD_ALLOWANCE not in {r["code"] for r in none.json()["results"]}
    assert client.get("/api/eservice/search", params={"municipality": "x"}).status_code == 422


def test_submit_signed_application_with_receipt_and_access_event(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    with clock.frozen_at(dt.datetime(2026, 12, 11, 16, 59)):  # a Friday, before 17:00 JST
        body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
        done = client.post("/api/eservice/applications", json=body)
    assert done.status_code == 201, done.text
    receipt = done.json()
    assert receipt["receipt_date"] == "2026-12-11" and receipt["receipt_number"].startswith("131016-20261211-")
    assert receipt["items"] == [
        {"procedure": CHILD_ALLOWANCE, "department": "kodomo-shien", "status": "submitted", "decision_reason": ""}
    ]
    application = db.scalar(select(Application).where(Application.public_id == receipt["application_id"]))
    assert application is not None and application.subject == parent.subject(db)
    assert application.signer_serial and application.signature
    actions = [e.action for e in audit.events_for(db, parent.subject(db))]
    assert "eservice.submit" in actions and "jpki.validity_check" in actions
    # the same content again: the same application, not a second one
    again = client.post("/api/eservice/applications", json=body)
    assert again.status_code == 200 and again.json()["application_id"] == receipt["application_id"]
    assert count(db) == 1


def test_after_hours_on_friday_is_received_monday(client: TestClient, applicant: Callable[..., Applicant]) -> None:
    parent = applicant()
    with clock.frozen_at(dt.datetime(2026, 12, 11, 17, 0)):
        body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
        done = client.post("/api/eservice/applications", json=body)
    assert done.status_code == 201 and done.json()["receipt_date"] == "2026-12-14"


def test_a_signature_older_than_an_hour_is_refused(client: TestClient, applicant: Callable[..., Applicant]) -> None:
    parent = applicant()
    with clock.frozen_at(dt.datetime(2026, 12, 11, 10, 0)):
        body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
    with clock.frozen_at(dt.datetime(2026, 12, 11, 11, 1)):
        problem = assert_problem(
            client.post("/api/eservice/applications", json=body), 403, "eservice-signature-refused"
        )
    assert "signing time" in problem["detail"]


def test_one_stop_fans_out_to_each_department(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    data = {code: example(client, code) for code in ("move-out", "child-allowance-termination", "nhi-withdrawal")}
    done = client.post(
        "/api/eservice/applications", json=body_for(client, parent.reader, data=data, life_event="move_out")
    )
    assert done.status_code == 201, done.text
    items = db.scalars(select(ApplicationItem).order_by(ApplicationItem.id)).all()
    assert [(i.procedure_code, i.department) for i in items] == [
        ("move-out", "kuminka"),
        ("child-allowance-termination", "kodomo-shien"),
        ("nhi-withdrawal", "hoken-nenkin"),
    ]
    assert db.scalar(select(StatusChange.status)) == "submitted"


def test_schema_breaking_form_is_refused_field_by_field(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    form = example(client) | {"kana": "やまだ", "birth_date": "1988-02-30"}
    del form["bank_account"]
    body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
    body["data"] = {CHILD_ALLOWANCE: form}
    problem = assert_problem(client.post("/api/eservice/applications", json=body), 400, "eservice-form-invalid")
    assert {e["field"] for e in problem["errors"]} == {"kana", "birth_date", "bank_account"}
    assert count(db) == 0


def test_signature_over_other_content_is_refused(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
    body["data"][CHILD_ALLOWANCE]["bank_account"] = "ゆうちょ銀行 〇一八 普通 7654321"
    assert_problem(client.post("/api/eservice/applications", json=body), 400, "eservice-bad-signature")
    body["signature"] = base64.b64encode(b"not a CMS").decode()
    assert_problem(client.post("/api/eservice/applications", json=body), 400, "eservice-bad-signature")
    assert count(db) == 0


def test_authentication_certificate_is_refused(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    from tests.eservice.conftest import sign_with

    parent = applicant()
    content = client.post(
        "/api/eservice/content",
        json={
            "municipality": MUNICIPALITY,
            "procedures": [CHILD_ALLOWANCE],
            "data": {CHILD_ALLOWANCE: example(client)},
        },
    ).content
    signature = sign_with(parent.reader, content, pin="1234", kind="auth")
    body = body_for(client, None, data={CHILD_ALLOWANCE: example(client)}, signature=signature)
    problem = assert_problem(client.post("/api/eservice/applications", json=body), 403, "eservice-signature-refused")
    assert "署名用" in problem["detail"]
    assert count(db) == 0


def test_revoked_signing_certificate_is_refused_with_the_reason(
    client: TestClient, db: Session, applicant: Callable[..., Applicant], ca_config: CaConfig
) -> None:
    parent = applicant()
    serial = next(c.serial for c in jpki.certificates_of(db, holder_ref=f"card:{parent.card.id}") if c.kind == "sign")
    with clock.frozen_at(dt.datetime(2026, 12, 11, 10, 0)):
        signed_before = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
    with clock.frozen_at(dt.datetime(2026, 12, 11, 10, 1)):
        jpki.revoke(db, config=ca_config, serial=serial, reason="key_compromise")
        db.commit()
    with clock.frozen_at(dt.datetime(2026, 12, 11, 10, 2)):
        signed_after = body_for(
            client, parent.reader, data={CHILD_ALLOWANCE: example(client) | {"phone": "03-1234-5678"}}
        )
        for body, when in ((signed_after, "at signing time"), (signed_before, "after signing")):
            problem = assert_problem(
                client.post("/api/eservice/applications", json=body), 403, "eservice-signature-refused"
            )
            assert (
                "revoked" in problem["detail"] and "key_compromise" in problem["detail"] and when in problem["detail"]
            )
    assert count(db) == 0


def test_expired_signing_certificate_is_refused(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    not_after = cards.certificate_not_after(parent.reader.certificate("sign", pin="ABC123"))
    with clock.frozen_at(not_after + dt.timedelta(days=1)):
        body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
        problem = assert_problem(client.post("/api/eservice/applications", json=body), 403)
    assert problem["type"].endswith("eservice-signature-refused") or problem["type"].endswith("card-unusable")
    assert count(db) == 0


def test_not_entitled_applicant_is_refused(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    childless = applicant(children=())
    body = body_for(client, childless.reader, data={CHILD_ALLOWANCE: example(client)})
    problem = assert_problem(client.post("/api/eservice/applications", json=body), 403, "eservice-not-entitled")
    assert "no child under 19" in problem["detail"]
    assert count(db) == 0


def test_attachment_limits(client: TestClient, db: Session, applicant: Callable[..., Applicant]) -> None:
    parent = applicant()
    data = {CHILD_ALLOWANCE: example(client)}
    too_big = upload("bank_book", b"%PDF-" + b"0" * 700_000)
    wrong_type = upload("bank_book", b"MZ\x90\x00 not a pdf")
    disguised = upload("bank_book", b"GIF89a...", media_type="image/gif")
    fetched = upload("tax_certificate", PDF)  # the network fetches it: never uploaded
    for attachment in (too_big, wrong_type, disguised, fetched):
        body = body_for(client, parent.reader, data=data, signature=b"unused")
        body["attachments"] = [attachment]
        assert_problem(client.post("/api/eservice/applications", json=body), 400, "eservice-attachment-refused")
    ok = body_for(client, parent.reader, data=data, attachments=[upload("bank_book", PDF)])
    assert client.post("/api/eservice/applications", json=ok).status_code == 201
    assert count(db) == 1


def test_idempotency_key_reused_for_other_content_is_a_conflict(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    first = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)}, idempotency_key="k-1")
    assert client.post("/api/eservice/applications", json=first).status_code == 201
    other = example(client) | {"bank_account": "りそな銀行 本店 普通 1111111"}
    second = body_for(client, parent.reader, data={CHILD_ALLOWANCE: other}, idempotency_key="k-1")
    assert_problem(client.post("/api/eservice/applications", json=second), 409, "eservice-idempotency-conflict")
    assert count(db) == 1


def test_logged_in_resident_cannot_submit_with_another_card(
    client: TestClient, db: Session, applicant: Callable[..., Applicant]
) -> None:
    parent, other = applicant(), applicant(family_name="佐藤")
    log_in(client, resident_id=other.resident_id)
    body = body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
    assert_problem(client.post("/api/eservice/applications", json=body), 403, "eservice-signature-refused")
    assert count(db) == 0


def test_status_only_to_the_applicant(client: TestClient, applicant: Callable[..., Applicant]) -> None:
    parent = applicant()
    done = client.post(
        "/api/eservice/applications", json=body_for(client, parent.reader, data={CHILD_ALLOWANCE: example(client)})
    )
    path = f"/api/eservice/applications/{done.json()['application_id']}"
    assert client.get(path).status_code == 404  # no session, not submitted from this browser's pages
    log_in(client, resident_id=parent.resident_id)
    assert client.get(path).json()["status"] == "submitted"


def test_unknown_procedure_and_validation_endpoint(client: TestClient) -> None:
    assert_problem(client.get("/api/eservice/procedures/131016/nope"), 404, "eservice-unknown-procedure")
    checked = client.post(f"/api/eservice/procedures/131016/{CHILD_ALLOWANCE}/validate", json={"name": ""})
    assert checked.status_code == 200 and not checked.json()["valid"]
    fine = client.post(f"/api/eservice/procedures/131016/{CHILD_ALLOWANCE}/validate", json=example(client))
    assert fine.json() == {"valid": True, "errors": []}
    detail = client.get(f"/api/eservice/procedures/131016/{CHILD_ALLOWANCE}").json()
    assert detail["form"]["type"] == "object" and detail["example"]["name"] == "山田 花子"
