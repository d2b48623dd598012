"""eKYC through HTTP: account opening, facts, replays, revoked, expired and replaced certificates, login."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card import service as cards
from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.ekyc import service
from openmyna.ekyc.models import Challenge, Use, Verification
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder
from openmyna.orgs.service import Caller
from tests.ekyc.conftest import (
    APPLICATION,
    AUTH_PIN,
    BANK,
    PHONE,
    SIGN_PIN,
    Businesses,
    b64,
    login_body,
    opening_body,
)
from tests.portal.conftest import Holder, card_login


def _count(db: Session, model: type, *where: object) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _refusals(db: Session, business: str, outcome: str) -> int:
    return _count(db, Use, Use.business == business, Use.ok.is_(False), Use.outcome == outcome)


def test_a_bank_opens_an_account_with_the_four_facts_and_the_holder_sees_it(
    client: TestClient, db: Session, businesses: Businesses, holder: Callable[..., Holder]
) -> None:
    person = holder()
    answer = client.post(
        "/api/ekyc/verifications", json=opening_body(client, businesses.bank, person), headers=businesses.bank
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body["facts"]) == {"name", "birth_date", "sex", "address"}
    assert len(body["facts"]["birth_date"]) == 10 and body["facts"]["sex"] in {"male", "female"}
    assert body["verification_id"].startswith("ekyc_") and body["certificate_serial"] == person.card.sign_serial
    assert person.card.subject not in answer.text  # the business gets its own pseudonym, never the platform's key
    actions = [e.action for e in audit.events_for(db, person.card.subject)]
    assert "ekyc.verification" in actions and "jpki.validity_check" in actions
    card_login(client, person)
    history = client.get("/portal/history", headers={"accept": "text/html"}).text
    assert "オープンマイナ銀行: 本人確認（署名用電子証明書）（普通預金口座開設）" in history


def test_a_business_asking_for_facts_it_is_not_registered_for_is_refused_logged_and_nothing_changes(
    client: TestClient, db: Session, businesses: Businesses, holder: Callable[..., Holder]
) -> None:
    person = holder()
    body = opening_body(client, businesses.phone, person, facts=["name", "sex"])
    refused = client.post("/api/ekyc/verifications", json=body, headers=businesses.phone)
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["type"].endswith("ekyc-facts-not-registered") and problem["refused"] == ["sex"]
    assert _refusals(db, PHONE, "ekyc-facts-not-registered") == 1
    assert _count(db, Verification) == 0 and _count(db, Challenge, Challenge.used_at.is_not(None)) == 0
    # the same signed application, asking only for what the phone company may see, goes through
    body["facts"] = ["name", "address"]
    answer = client.post("/api/ekyc/verifications", json=body, headers=businesses.phone)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["facts"]) == {"name", "address"}
    body.pop("facts")
    fresh = opening_body(client, businesses.phone, person)
    defaults = client.post("/api/ekyc/verifications", json=fresh, headers=businesses.phone).json()["facts"]
    assert set(defaults) == {"name", "birth_date", "address"}  # the registration, not all four


def test_replayed_expired_and_foreign_challenges_are_refused_and_logged(
    client: TestClient, db: Session, businesses: Businesses, holder: Callable[..., Holder]
) -> None:
    person = holder()
    body = opening_body(client, businesses.bank, person)
    assert client.post("/api/ekyc/verifications", json=body, headers=businesses.bank).status_code == 200
    again = client.post("/api/ekyc/verifications", json=body, headers=businesses.bank)
    assert again.status_code == 409 and again.json()["type"].endswith("ekyc-challenge-used")
    # the bank's challenge is not the phone company's
    other = client.post(
        "/api/ekyc/verifications", json=opening_body(client, businesses.bank, person), headers=businesses.phone
    )
    assert other.status_code == 404 and other.json()["type"].endswith("ekyc-challenge-unknown")
    # a login challenge does not open an account
    login = login_body(client, businesses.bank, person)
    wrong = client.post(
        "/api/ekyc/verifications", json={**body, "challenge": login["challenge"]}, headers=businesses.bank
    )
    assert wrong.status_code == 404
    late = opening_body(client, businesses.bank, person)
    with clock.frozen_at(clock.now() + service.TTL + dt.timedelta(seconds=1)):
        expired = client.post("/api/ekyc/verifications", json=late, headers=businesses.bank)
    assert expired.status_code == 410 and expired.json()["type"].endswith("ekyc-challenge-expired")
    assert _refusals(db, BANK, "ekyc-challenge-used") == 1 and _refusals(db, BANK, "ekyc-challenge-expired") == 1
    assert _refusals(db, PHONE, "ekyc-challenge-unknown") == 1
    assert _count(db, Verification) == 1


def test_a_suspended_or_expired_signing_certificate_is_refused_with_its_status(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    ca_config: CaConfig,
    businesses: Businesses,
    holder: Callable[..., Holder],
    town_headers: dict[str, str],
) -> None:
    person = holder()
    body = opening_body(client, businesses.bank, person)
    lost = client.post(f"/api/cards/{person.card.id}/report-lost", json={}, headers=town_headers)
    assert lost.status_code == 200, lost.text
    refused = client.post("/api/ekyc/verifications", json=body, headers=businesses.bank)
    assert refused.status_code == 403 and refused.json()["certificate_status"] == "suspended"
    assert _refusals(db, BANK, "ekyc-certificate-refused") == 1 and _count(db, Verification) == 0
    assert "ekyc.verification" in [e.action for e in audit.events_for(db, person.card.subject)]  # the refusal too
    found = client.post(f"/api/cards/{person.card.id}/resume", headers=town_headers)
    assert found.status_code == 200, found.text
    # past the certificate's end: the platform's tokens would have expired too, so the operator's service, directly
    late = jpki.aware(jpki.certificate(db, serial=person.card.sign_serial or "").not_after) + dt.timedelta(days=1)
    with clock.frozen_at(late):
        data, _ = service.open_challenge(db, business=BANK, purpose="account_opening")
    signature = person.reader.sign("sign", SIGN_PIN, data=data + b"\n" + APPLICATION.encode())
    with clock.frozen_at(late):
        outcome = service.verify(
            db,
            config=ca_config,
            responder=Responder(session_factory, ca_config),
            business=BANK,
            actor="test",
            challenge=data,
            application=APPLICATION,
            certificate=person.reader.certificate("sign", pin=SIGN_PIN),
            signature=signature,
            facts=None,
        )
    assert isinstance(outcome, service.Refused) and outcome.error.extensions["certificate_status"] == "expired"
    assert _refusals(db, BANK, "ekyc-certificate-refused") == 2 and _count(db, Verification) == 0
    again = opening_body(client, businesses.bank, person)
    assert client.post("/api/ekyc/verifications", json=again, headers=businesses.bank).status_code == 200


def test_after_a_move_the_business_learns_the_replacement_and_the_new_address(
    client: TestClient, db: Session, businesses: Businesses, holder: Callable[..., Holder], town_headers: dict[str, str]
) -> None:
    person = holder()
    opened = client.post(
        "/api/ekyc/verifications", json=opening_body(client, businesses.bank, person), headers=businesses.bank
    ).json()
    phone = client.post(
        "/api/ekyc/verifications", json=opening_body(client, businesses.phone, person), headers=businesses.phone
    ).json()
    ref = opened["verification_id"]
    assert client.post(f"/api/ekyc/verifications/{ref}/status", headers=businesses.bank).json()["status"] == "good"
    move = {"event_date": "2026-06-01", "address": {"postal_code": "1010021", "block": "1番1号"}}
    moved = client.post(f"/api/registry/residents/{person.resident_id}/move-within", json=move, headers=town_headers)
    assert moved.status_code == 200, moved.text
    revoked = client.post(f"/api/ekyc/verifications/{ref}/status", headers=businesses.bank).json()
    assert (
        revoked["status"] == "revoked" and revoked["reason"] == "affiliation_changed" and revoked["replaced_by"] is None
    )
    reissued = client.post(f"/api/cards/{person.card.id}/reissue-signing", headers=town_headers)
    assert reissued.status_code == 200, reissued.text
    answer = client.post(f"/api/ekyc/verifications/{ref}/status", headers=businesses.bank).json()
    assert answer["replaced_by"]["serial"] != opened["certificate_serial"]
    assert "1番1号" in answer["replaced_by"]["facts"]["address"] and "1番1号" not in opened["facts"]["address"]
    assert set(answer["replaced_by"]["facts"]) == {"name", "birth_date", "sex", "address"}
    seen = client.post(f"/api/ekyc/verifications/{phone['verification_id']}/status", headers=businesses.phone).json()
    assert set(seen["replaced_by"]["facts"]) == {"name", "birth_date", "address"}  # no sex for the phone company
    # a verification is its business's: another business learns nothing, and the attempt is logged
    stranger = client.post(f"/api/ekyc/verifications/{ref}/status", headers=businesses.phone)
    assert stranger.status_code == 404 and _refusals(db, PHONE, "ekyc-verification-not-found") == 1
    # the old certificate opens no other account: it is revoked, and the answer names its replacement
    stale = opening_body(client, businesses.bank, person)
    stale["certificate"] = b64(jpki.certificate(db, serial=opened["certificate_serial"]).der)
    refused = client.post("/api/ekyc/verifications", json=stale, headers=businesses.bank)
    assert refused.status_code == 403 and refused.json()["certificate_status"] == "revoked"
    assert refused.json()["replaced_by"] == answer["replaced_by"]["serial"]
    assert "ekyc.status" in [e.action for e in audit.events_for(db, person.card.subject)]


def test_login_gives_each_business_its_own_stable_pseudonym(
    client: TestClient,
    db: Session,
    keys: KeyRing,
    session_factory: sessionmaker[Session],
    ca_config: CaConfig,
    clerk: Caller,
    businesses: Businesses,
    holder: Callable[..., Holder],
    town_headers: dict[str, str],
) -> None:
    person = holder()
    opened = client.post(
        "/api/ekyc/verifications", json=opening_body(client, businesses.bank, person), headers=businesses.bank
    ).json()
    bank = client.post("/api/ekyc/logins", json=login_body(client, businesses.bank, person), headers=businesses.bank)
    assert bank.status_code == 200, bank.text
    assert bank.json()["pseudonym"] == opened["pseudonym"]  # the bank binds the login to the account it opened
    phone = client.post("/api/ekyc/logins", json=login_body(client, businesses.phone, person), headers=businesses.phone)
    assert phone.json()["pseudonym"] != bank.json()["pseudonym"]
    other = holder()
    stranger = client.post("/api/ekyc/logins", json=login_body(client, businesses.bank, other), headers=businesses.bank)
    assert stranger.json()["pseudonym"] != bank.json()["pseudonym"]
    replay = login_body(client, businesses.bank, person)
    assert client.post("/api/ekyc/logins", json=replay, headers=businesses.bank).status_code == 200
    assert client.post("/api/ekyc/logins", json=replay, headers=businesses.bank).status_code == 409
    # renewal: new certificates on the same card, the same pseudonym
    # renewal (new certificates on the same card, within three months of expiry): the same pseudonym
    window = jpki.aware(jpki.certificate(db, serial=person.card.auth_serial or "").not_after) - dt.timedelta(days=30)
    with clock.frozen_at(window):
        cards.renew(db, config=ca_config, card_id=person.card.id, caller=clerk)
        data, _ = service.open_challenge(db, business=BANK, purpose="login")
        renewed = service.login(
            db,
            keys=keys,
            responder=Responder(session_factory, ca_config),
            business=BANK,
            actor="test",
            challenge=data,
            certificate=person.reader.certificate("auth"),
            signature=person.reader.sign("auth", AUTH_PIN, data=data),
        )
    db.commit()
    assert isinstance(renewed, service.LoggedIn) and renewed.pseudonym == bank.json()["pseudonym"]
    read = login_body(client, businesses.bank, person)  # read just before the card is revoked
    revoked = client.post(
        f"/api/cards/{person.card.id}/revoke", json={"reason": "loss_confirmed"}, headers=town_headers
    )
    assert revoked.status_code == 200, revoked.text
    refused = client.post("/api/ekyc/logins", json=read, headers=businesses.bank)
    assert refused.status_code == 403 and refused.json()["type"].endswith("ekyc-certificate-refused")
    assert _refusals(db, BANK, "ekyc-certificate-refused") == 1 and _refusals(db, BANK, "ekyc-challenge-used") == 1
    assert "ekyc.login" in [e.action for e in audit.events_for(db, person.card.subject)]


def test_only_registered_businesses_with_the_scope_may_call(
    client: TestClient, db: Session, businesses: Businesses, town_headers: dict[str, str], holder: Callable[..., Holder]
) -> None:
    assert client.post("/api/ekyc/challenges", json={"purpose": "login"}).status_code == 401
    assert client.post("/api/ekyc/challenges", json={"purpose": "login"}, headers=town_headers).status_code == 403
    me = client.get("/api/ekyc/business", headers=businesses.phone).json()
    assert me["operator"] == "openmyna-pf" and me["facts"] == ["name", "birth_date", "address"]
    person = holder()
    body = opening_body(client, businesses.bank, person)
    for bad in ({**body, "certificate": "not base64!"}, {**body, "application": "口座\x00開設"}, {**body, "extra": 1}):
        answer = client.post("/api/ekyc/verifications", json=bad, headers=businesses.bank)
        assert answer.status_code in (400, 422) and answer.headers["content-type"] == "application/problem+json"
    wrong_kind = {**body, "certificate": login_body(client, businesses.bank, person)["certificate"]}
    refused = client.post("/api/ekyc/verifications", json=wrong_kind, headers=businesses.bank)
    assert refused.status_code == 403 and refused.json()["certificate_status"] == "kind"
    assert client.post("/api/ekyc/verifications/%00/status", headers=businesses.bank).status_code == 422
    assert _count(db, Verification) == 0
