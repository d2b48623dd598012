"""Online eligibility through HTTP: answers, consent, change of insurer, and every refusal logged."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card import service as cards
from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.health import insurers, service
from openmyna.health.models import Challenge, Check, Qualification
from openmyna.health.service import CHECK_ACTION
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder
from openmyna.orgs.service import Caller
from tests.health.conftest import CLINIC, KENPO, KYOKAI, World, enrol, signed_body
from tests.portal.conftest import Holder

URL = "/api/health/eligibility"


def _checks(db: Session, outcome: str | None = None) -> int:
    query = select(func.count()).select_from(Check)
    if outcome:
        query = query.where(Check.outcome == outcome)
    return db.scalar(query) or 0


def _events(db: Session, person: Holder) -> list[audit.AccessEvent]:
    return [e for e in audit.events_for(db, person.card.subject) if e.action == CHECK_ACTION]


def test_insured_patient_gets_insurer_and_burden_and_sees_the_check(
    client: TestClient, db: Session, world: World, insured: Callable[..., Holder]
) -> None:
    person = insured(KYOKAI)
    answer = client.post(URL, json=signed_body(client, world.clinic_headers, person), headers=world.clinic_headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["insured"] is True
    assert body["insurer_number"] == "01130012"
    assert body["burden_ratio"] == 0.3
    assert body["records"] is None and body["consent_to_share"] is False
    events = _events(db, person)
    assert len(events) == 1 and events[0].actor_org == CLINIC
    assert _checks(db, "insured") == 1
    # the clearing house keeps codes, never the My Number
    row = db.scalars(select(Qualification)).one()
    assert row.clearing_code != row.person_code and len(row.clearing_code) == 32


def test_records_only_with_the_consent_the_card_signed(
    client: TestClient, db: Session, keys: KeyRing, world: World, insured: Callable[..., Holder]
) -> None:
    person = insured(KYOKAI)
    code = db.scalars(select(Qualification.person_code)).one()
    insurers.add_dispensed(
        db,
        insurer=KYOKAI,
        person_code=code,
        dispensed_on=dt.date(2026, 11, 1),
        medicine="アムロジピン錠5mg",
        dose="1日1回 1錠",
        days=28,
        pharmacy="飯田橋薬局",
    )
    db.commit()
    without = client.post(URL, json=signed_body(client, world.clinic_headers, person), headers=world.clinic_headers)
    assert without.json()["records"] is None
    shared = client.post(
        URL, json=signed_body(client, world.clinic_headers, person, share=True), headers=world.clinic_headers
    ).json()
    assert shared["consent_to_share"] is True
    assert [r["medicine"] for r in shared["records"]] == ["アムロジピン錠5mg"]
    # a terminal that turns "no-share" into "share" after the challenge was issued is refused
    body = client.post("/api/health/challenges", json={"share_records": False}, headers=world.clinic_headers).json()
    forged = base64.b64decode(body["challenge"]).replace(b"|no-share|", b"|share|")
    refused = client.post(
        URL,
        json={
            "challenge": base64.b64encode(forged).decode(),
            "certificate": base64.b64encode(person.reader.certificate("auth")).decode(),
            "signature": base64.b64encode(person.reader.sign("auth", "1234", data=forged)).decode(),
        },
        headers=world.clinic_headers,
    )
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("health-card-refused")
    assert len(_events(db, person)) == 2


def test_a_replayed_card_read_is_refused_and_logged(
    client: TestClient, db: Session, world: World, insured: Callable[..., Holder]
) -> None:
    person = insured(KYOKAI)
    body = signed_body(client, world.clinic_headers, person)
    assert client.post(URL, json=body, headers=world.clinic_headers).status_code == 200
    again = client.post(URL, json=body, headers=world.clinic_headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("health-challenge-used")
    assert len(_events(db, person)) == 1
    assert _checks(db, "refused") == 1


def test_another_clinic_cannot_use_a_challenge(
    client: TestClient, db: Session, world: World, insured: Callable[..., Holder]
) -> None:
    person = insured(KYOKAI)
    body = signed_body(client, world.clinic_headers, person)
    stolen = client.post(URL, json=body, headers=world.other_headers)
    assert stolen.status_code == 401
    assert client.post(URL, json=body, headers=world.clinic_headers).status_code == 200  # nothing was spent


def test_revoked_and_expired_certificates_are_refused_with_the_reason(
    client: TestClient,
    db: Session,
    keys: KeyRing,
    session_factory: sessionmaker[Session],
    world: World,
    insured: Callable[..., Holder],
    ca_config: CaConfig,
    clerk: Caller,
) -> None:
    person = insured(KYOKAI)
    body = signed_body(client, world.clinic_headers, person)
    cards.report_lost(db, config=ca_config, card_id=person.card.id, caller=clerk)
    db.commit()
    refused = client.post(URL, json=body, headers=world.clinic_headers)
    assert refused.status_code == 401, refused.text
    assert "on hold" in refused.json()["detail"]  # a lost card: certificateHold (RFC 5280)
    assert refused.json()["reason"] == "certificate_hold"
    assert db.scalar(select(Challenge.used_at)) is None  # nothing changed
    assert _events(db, person) == []

    other = insured(KYOKAI)
    late = dt.datetime.combine(other.card.expires_on + dt.timedelta(days=400), dt.time(9), clock.JST)
    with clock.frozen_at(late):  # the platform's tokens would have expired too: the service, directly
        opened = service.open_challenge(db, clinic=CLINIC, share=False)
    signature = other.reader.sign("auth", "1234", data=opened.challenge)  # the chip, before the card expired
    certificate = other.reader.certificate("auth")
    with clock.frozen_at(late):
        outcome = service.check(
            db,
            keys=keys,
            responder=Responder(session_factory, ca_config),
            clinic=CLINIC,
            challenge=opened.challenge,
            certificate=certificate,
            signature=signature,
        )
    assert isinstance(outcome, service.Refused)
    assert "validity period" in outcome.error.detail
    assert _checks(db, "refused") == 2


def test_uninsured_and_ended_insurance_are_clear_answers(
    client: TestClient, db: Session, world: World, insured: Callable[..., Holder]
) -> None:
    nobody = insured(None)
    answer = client.post(URL, json=signed_body(client, world.clinic_headers, nobody), headers=world.clinic_headers)
    assert answer.status_code == 200
    assert answer.json()["insured"] is False and answer.json()["insurer_number"] is None
    assert "資格なし" in answer.json()["reason"]

    leaver = insured(KENPO)
    code = db.scalars(select(Qualification.person_code).where(Qualification.insurer_org == KENPO)).one()
    insurers.end(db, insurer=KENPO, person_code=code, last_day=clock.today() - dt.timedelta(days=1))
    db.commit()
    ended = client.post(URL, json=signed_body(client, world.clinic_headers, leaver), headers=world.clinic_headers)
    assert ended.json()["insured"] is False
    assert "ended on" in ended.json()["reason"]
    assert len(_events(db, leaver)) == 1  # an answer "not insured" is an access too


def test_a_new_job_changes_the_insurer_on_its_date(
    client: TestClient,
    db: Session,
    keys: KeyRing,
    session_factory: sessionmaker[Session],
    ca_config: CaConfig,
    world: World,
    insured: Callable[..., Holder],
) -> None:
    person = insured(KENPO, ratio=0.3)
    start = clock.today() + dt.timedelta(days=10)
    enrol(db, keys, person, insurer=KYOKAI, since=start)
    before = client.post(URL, json=signed_body(client, world.clinic_headers, person), headers=world.clinic_headers)
    assert before.json()["insurer"]["code"] == KENPO
    assert before.json()["qualification"]["valid_until"] == (start - dt.timedelta(days=1)).isoformat()
    with clock.frozen_at(dt.datetime.combine(start, dt.time(9), clock.JST)):  # tokens live minutes: the service
        opened = service.open_challenge(db, clinic=CLINIC, share=False)
        after = service.check(
            db,
            keys=keys,
            responder=Responder(session_factory, ca_config),
            clinic=CLINIC,
            challenge=opened.challenge,
            certificate=person.reader.certificate("auth"),
            signature=person.reader.sign("auth", "1234", data=opened.challenge),
        )
    assert isinstance(after, service.Eligibility)
    assert after.as_json()["insurer"]["code"] == KYOKAI
    assert after.as_json()["insurer_number"] == "01130012"


def test_face_check_mismatch_and_bad_input_are_refused_and_change_nothing(
    client: TestClient, db: Session, world: World, insured: Callable[..., Holder]
) -> None:
    person = insured(KYOKAI)
    body = signed_body(client, world.clinic_headers, person)
    face = client.post(URL, json={**body, "face_check": "not_matched"}, headers=world.clinic_headers)
    assert face.status_code == 403 and face.json()["type"].endswith("health-face-not-matched")
    garbled = client.post(URL, json={**body, "signature": "!!"}, headers=world.clinic_headers)
    assert garbled.status_code == 400
    wrong = client.post(URL, json={**body, "signature": body["certificate"][:344]}, headers=world.clinic_headers)
    assert wrong.status_code == 401
    assert _checks(db, "refused") == 3
    assert _events(db, person) == []
    ok = client.post(URL, json={**body, "face_check": "matched"}, headers=world.clinic_headers)
    assert ok.status_code == 200 and ok.json()["insured"] is True


def test_only_registered_clinics_may_ask(
    client: TestClient, db: Session, world: World, insured: Callable[..., Holder], town_headers: dict[str, str]
) -> None:
    person = insured(KYOKAI)
    assert client.post("/api/health/challenges", json={}, headers=town_headers).status_code == 403
    assert client.post("/api/health/challenges", json={}).status_code == 401
    body = signed_body(client, world.clinic_headers, person)
    assert client.post(URL, json=body, headers=town_headers).status_code == 403
    listed = client.get("/api/health/clinics").json()
    assert [c["code"] for c in listed] == [CLINIC, "1330112342"]


def test_insurer_numbers_and_enrolment_rules(db: Session, keys: KeyRing, world: World) -> None:
    assert insurers.check_insurer_number("01130012") == "01130012"
    assert insurers.check_insurer_number("131011") == "131011"
    for bad in ("01130013", "1234567", "abcdefgh"):
        try:
            insurers.check_insurer_number(bad)
        except insurers.InvalidInput:
            continue
        raise AssertionError(bad)
    assert insurers.standard_burden(dt.date(1948, 11, 23), dt.date(2026, 12, 7)) == 0.1
    assert insurers.standard_burden(dt.date(1955, 1, 1), dt.date(2026, 12, 7)) == 0.2
    assert insurers.standard_burden(dt.date(2022, 1, 1), dt.date(2026, 12, 7)) == 0.2
    assert insurers.standard_burden(dt.date(1990, 1, 1), dt.date(2026, 12, 7)) == 0.3


def test_the_patient_sees_the_check_in_the_portal_history(
    client: TestClient, db: Session, world: World, insured: Callable[..., Holder]
) -> None:
    from tests.portal.conftest import card_login

    person = insured(KYOKAI)
    client.post(URL, json=signed_body(client, world.clinic_headers, person), headers=world.clinic_headers)
    client.headers.pop("Authorization", None)
    card_login(client, person)
    page = client.get("/portal/history", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "千代田内科クリニック: 資格確認" in page.text
    assert "全国健康保険協会: 資格取得の登録" in page.text
    assert "カードの利用" in page.text
