"""PINs through the reader (counted, then locked), registry events revoking certificates, and the HTTP APIs."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card import service as cards
from openmyna.card.chip import PinLocked, WrongPin
from openmyna.card.models import Card
from openmyna.card.reader import VirtualReader
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.orgs import service as orgs
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.schemas import Death, MoveOut, MoveWithin, ResidentChange
from tests.card.conftest import AUTH_PIN, SIGN_PIN
from tests.conftest import bearer_for


def test_wrong_pins_are_counted_by_the_chip_and_lock_it(
    db: Session, session_factory: sessionmaker[Session], ca_config: CaConfig, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    db.commit()
    reader = VirtualReader(session_factory, ca_config.keys, card.id)
    challenge = b"login challenge 42"
    signature = reader.sign("auth", AUTH_PIN, data=challenge)
    cert = x509.load_der_x509_certificate(reader.certificate("auth"))
    cert.public_key().verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
    for left in (2, 1):
        with pytest.raises(WrongPin) as wrong:
            reader.sign("auth", "0000", data=challenge)
        assert wrong.value.extensions["tries_left"] == left
    with pytest.raises(PinLocked):
        reader.verify_pin("auth", "0000")
    with pytest.raises(PinLocked):
        reader.sign("auth", AUTH_PIN, data=challenge)  # locked: even the right PIN is refused
    assert reader.tries_left("auth") == 0 and reader.tries_left("sign") == 5
    with pytest.raises(WrongPin):
        reader.certificate("sign", pin="WRONG1")  # the signing certificate needs its PIN
    assert reader.tries_left("sign") == 4
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"document")
    assert reader.sign("sign", SIGN_PIN, digest=digest.finalize())
    assert reader.tries_left("sign") == 5
    assert reader.read_face(AUTH_PIN)["sex"] == "female"


def test_address_change_revokes_only_the_signing_certificate_and_links_the_new_one(
    db: Session, ca_config: CaConfig, clerk: Caller, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    old_sign, auth = card.sign_serial or "", card.auth_serial or ""
    move = MoveWithin.model_validate(
        {"event_date": "2026-06-01", "address": {"postal_code": "1010021", "block": "1番1号"}}
    )
    registry.move_within(db, resident_id=card.resident_id, municipality_code="131016", data=move, caller=clerk)
    assert jpki.certificate(db, serial=old_sign).status == "revoked"
    assert jpki.certificate(db, serial=old_sign).revocation_reason == "affiliation_changed"
    assert jpki.certificate(db, serial=auth).status == "good"
    cards.reissue_signing(db, config=ca_config, card_id=card.id, caller=clerk)
    assert jpki.certificate(db, serial=old_sign).replaced_by_serial == card.sign_serial
    new_cert = x509.load_der_x509_certificate(jpki.certificate(db, serial=card.sign_serial or "").der)
    from openmyna.jpki.profiles import facts_in

    assert "1番1号" in facts_in(new_cert)["address"]
    change = ResidentChange(reason="name_change", event_date="2026-07-01", family_name="鈴木")  # type: ignore[arg-type]
    registry.change_resident(db, resident_id=card.resident_id, data=change, caller=clerk)
    assert jpki.certificate(db, serial=card.sign_serial or "").status == "revoked"


@pytest.mark.parametrize(
    ("destination", "country", "abroad"),
    [
        ("大阪府大阪市北区梅田一丁目1番1号", None, False),
        ("アメリカ合衆国", "US", True),
        ("アメリカ合衆国", None, False),
    ],
)
def test_move_out_and_death(
    db: Session,
    ca_config: CaConfig,
    clerk: Caller,
    active_card: Callable[..., Card],
    destination: str,
    country: str | None,
    abroad: bool,
) -> None:
    card = active_card()
    registry.move_out(
        db,
        resident_id=card.resident_id,
        data=MoveOut(event_date="2026-06-01", destination=destination, destination_country=country),
        caller=clerk,  # type: ignore[arg-type]
    )
    assert card.state == "active" and jpki.certificate(db, serial=card.sign_serial or "").status == "revoked"
    assert jpki.certificate(db, serial=card.auth_serial or "").status == "good"
    assert (card.abroad_since is not None) is abroad  # abroad only when a country is named, never guessed
    other = active_card()
    registry.record_death(db, resident_id=other.resident_id, data=Death(event_date="2026-06-02"), caller=clerk)  # type: ignore[arg-type]
    assert other.state == "revoked"
    assert jpki.certificate(db, serial=other.auth_serial or "").revocation_reason == "cessation_of_operation"


def _pem(db: Session, serial: str) -> str:
    from cryptography.hazmat.primitives import serialization

    return (
        x509.load_der_x509_certificate(jpki.certificate(db, serial=serial).der)
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


def test_validity_api_for_registered_verifiers_only(
    db: Session, client: TestClient, keys, ca_config: CaConfig, clerk: Caller, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    bank = orgs.add_organisation(db, keys=keys, code="bank-1", name="銀行", kind="linked_site")
    shop = orgs.add_organisation(db, keys=keys, code="shop-1", name="商店", kind="shop")
    old_pem = _pem(db, card.sign_serial or "")
    db.commit()
    headers = bearer_for(client, "bank-1", bank.private_key_pem)
    body = client.post("/api/jpki/validity", json={"certificate": old_pem}, headers=headers).json()
    assert body["status"] == "good" and body["kind"] == "sign" and body["replaced_by"] is None

    move = MoveWithin.model_validate(
        {"event_date": "2026-06-01", "address": {"postal_code": "1010021", "block": "2番2号"}}
    )
    registry.move_within(db, resident_id=card.resident_id, municipality_code="131016", data=move, caller=clerk)
    cards.reissue_signing(db, config=ca_config, card_id=card.id, caller=clerk)
    db.commit()
    body = client.post("/api/jpki/validity", json={"certificate": old_pem}, headers=headers).json()
    assert body["status"] == "revoked" and body["reason"] == "affiliation_changed"
    assert (
        body["replaced_by"]["serial"] == card.sign_serial
        and "BEGIN CERTIFICATE" in body["replaced_by"]["certificate_pem"]
    )
    earlier = client.post(
        "/api/jpki/validity", json={"certificate": old_pem, "at": "2020-01-01T00:00:00Z"}, headers=headers
    )
    assert earlier.json()["status"] == "not_yet_valid"
    followed = client.get(f"/api/jpki/certificates/{card.sign_serial}", headers=headers)
    assert followed.status_code == 200 and followed.json()["serial"] == card.sign_serial

    for bad, status_code in (("not a certificate at all", 400), (base64.b64encode(b"x" * 40).decode(), 400)):
        reply = client.post("/api/jpki/validity", json={"certificate": bad}, headers=headers)
        assert reply.status_code == status_code and reply.headers["content-type"] == "application/problem+json"
    foreign = client.get("/jpki/ca/auth.pem").text  # a real certificate, but a CA's, not an issued one
    reply = client.post("/api/jpki/validity", json={"certificate": foreign}, headers=headers)
    assert reply.status_code == 422 and reply.json()["type"].endswith("jpki-foreign-certificate")

    shop_headers = bearer_for(client, "shop-1", shop.private_key_pem)
    assert client.post("/api/jpki/validity", json={"certificate": old_pem}, headers=shop_headers).status_code == 403
    assert client.post("/api/jpki/validity", json={"certificate": old_pem}).status_code == 401


def test_card_api_lifecycle_and_problem_responses(
    db: Session, client: TestClient, town_headers: dict[str, str], resident: Callable[..., int]
) -> None:
    rid = resident()
    db.commit()
    made = client.post("/api/cards", json={"resident_id": rid}, headers=town_headers)
    assert made.status_code == 201, made.text
    card_id = made.json()["id"]
    assert client.post(f"/api/cards/{card_id}/setup", headers=town_headers).status_code == 409
    assert client.post(f"/api/cards/{card_id}/manufacture", headers=town_headers).status_code == 200
    assert client.post(f"/api/cards/{card_id}/setup", headers=town_headers).status_code == 200
    bad = client.post(
        f"/api/cards/{card_id}/hand-over",
        json={"auth_pin": "12", "sign_pin": SIGN_PIN, "identity_checked": True},
        headers=town_headers,
    )
    assert bad.status_code == 400 and bad.json()["type"].endswith("card-bad-pin-format")
    good = {"auth_pin": AUTH_PIN, "sign_pin": SIGN_PIN, "identity_checked": True}
    assert client.post(f"/api/cards/{card_id}/hand-over", json=good, headers=town_headers).json()["state"] == "active"
    assert (
        client.post(f"/api/cards/{card_id}/report-lost", json={"via": "hotline"}, headers=town_headers).json()["state"]
        == "suspended"
    )
    assert client.post(f"/api/cards/{card_id}/revoke", json={"reason": "sold"}, headers=town_headers).status_code == 422
    assert client.get("/api/cards/99999", headers=town_headers).status_code == 404
    assert client.get(f"/api/cards/{card_id}/certificates/auth", headers=town_headers).text.startswith("-----BEGIN")
    events = [e["event"] for e in client.get(f"/api/cards/{card_id}", headers=town_headers).json()["events"]]
    assert events == ["applied", "shipped", "setup", "handed_over", "suspended"]
    rows = {r["event"]: r for r in client.get("/api/card/stats").json()["rows"]}
    assert rows["applied"]["cumulative"] >= 1 and rows["handed_over"]["weekdays_only"] is True


def test_login_verification_uses_chain_dates_policy_and_status(
    db: Session,
    session_factory: sessionmaker[Session],
    ca_config: CaConfig,
    clerk: Caller,
    active_card: Callable[..., Card],
) -> None:
    import time

    from openmyna.jpki.ocsp import Responder
    from openmyna.jpki.verify import LoginRefused, verify_signature

    card = active_card()
    other = active_card()
    db.commit()
    reader = VirtualReader(session_factory, ca_config.keys, card.id)
    responder = Responder(session_factory, ca_config)
    challenge = b"nonce-from-the-portal"
    signature = reader.sign("auth", AUTH_PIN, data=challenge)
    der = reader.certificate("auth")
    assert (
        verify_signature(responder, certificate_der=der, data=challenge, signature=signature).serial == card.auth_serial
    )
    with pytest.raises(LoginRefused, match="does not match"):
        verify_signature(responder, certificate_der=der, data=b"another challenge", signature=signature)
    other_der = VirtualReader(session_factory, ca_config.keys, other.id).certificate("auth")
    with pytest.raises(LoginRefused, match="does not match"):
        verify_signature(responder, certificate_der=other_der, data=challenge, signature=signature)
    with pytest.raises(LoginRefused, match="not a JPKI sign"):
        verify_signature(responder, certificate_der=der, data=challenge, signature=signature, kind="sign")
    with pytest.raises(LoginRefused, match="cannot be parsed"):
        verify_signature(responder, certificate_der=b"junk", data=challenge, signature=signature)
    cards.report_lost(db, config=ca_config, card_id=card.id, caller=clerk)
    db.commit()
    time.sleep(0.6)  # the responder re-reads an entry at most every 0.5 s
    with pytest.raises(LoginRefused, match="on hold"):
        verify_signature(responder, certificate_der=der, data=challenge, signature=signature)


def test_statistics_page_counts_weekdays_for_setup_and_hand_over(
    db: Session, client: TestClient, active_card: Callable[..., Card]
) -> None:
    import datetime as dt

    from openmyna.card import stats

    with_holiday = stats.table(db, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 7))  # Sun..Sat, 3 Nov holiday
    days = {row.event: row.days for row in with_holiday}
    assert days == {"applied": 7, "shipped": 7, "setup": 4, "handed_over": 4}
    active_card()
    db.commit()
    page = client.get("/card/stats?lang=en")
    assert page.status_code == 200 and "Cards handed over" in page.text and "weekdays" in page.text
    assert "交付実施済み数" in client.get("/card/stats?lang=ja").text
    assert client.get("/api/card/stats?from=2026-13-01").status_code == 422


def test_local_reader_endpoint(
    db: Session, session_factory: sessionmaker[Session], ca_config: CaConfig, active_card: Callable[..., Card]
) -> None:
    from openmyna.card.reader_http import create_reader_app

    card = active_card()
    db.commit()
    reader = VirtualReader(session_factory, ca_config.keys, card.id)
    with TestClient(create_reader_app(reader, allowed_origins=["http://portal.example"])) as local:
        der = base64.b64decode(local.get("/reader/certificate").json()["certificate"])
        challenge = b"portal-nonce"
        signed = local.post(
            "/reader/sign",
            json={"challenge": base64.b64encode(challenge).decode(), "pin": AUTH_PIN},
            headers={"Origin": "http://portal.example"},
        )
        assert signed.headers["access-control-allow-origin"] == "http://portal.example"
        signature = base64.b64decode(signed.json()["signature"])
        x509.load_der_x509_certificate(der).public_key().verify(  # type: ignore[union-attr]
            signature, challenge, padding.PKCS1v15(), hashes.SHA256()
        )
        wrong = local.post("/reader/sign", json={"challenge": base64.b64encode(challenge).decode(), "pin": "0000"})
        assert wrong.status_code == 403 and wrong.json()["tries_left"] == 2
        assert local.post("/reader/sign", json={"challenge": "***", "pin": AUTH_PIN}).status_code == 400
    assert reader.tries_left("auth") == 2  # the wrong PIN was counted by the chip


def test_expired_certificates_are_reported_and_refused_at_login(
    db: Session, session_factory: sessionmaker[Session], ca_config: CaConfig, active_card: Callable[..., Card]
) -> None:
    import datetime as dt

    from openmyna.core import clock
    from openmyna.jpki.ocsp import Responder
    from openmyna.jpki.verify import LoginRefused, verify_signature

    card = active_card()
    db.commit()
    reader = VirtualReader(session_factory, ca_config.keys, card.id)
    der = reader.certificate("auth")
    signature = reader.sign("auth", AUTH_PIN, data=b"c")
    after = jpki.aware(jpki.certificate(db, serial=card.auth_serial or "").not_after) + dt.timedelta(days=1)
    report = jpki.check_validity(db, config=ca_config, data=der, at=after, verifier_org="bank-1", actor="test")
    assert report.status == "expired"
    with clock.frozen_at(after), pytest.raises(LoginRefused, match="validity period"):
        verify_signature(Responder(session_factory, ca_config), certificate_der=der, data=b"c", signature=signature)


def test_a_fresh_responder_accepts_concurrent_first_logins(
    db: Session, session_factory: sessionmaker[Session], ca_config: CaConfig, active_card: Callable[..., Card]
) -> None:
    """The authorities are read once by whichever login comes first; the others must never see a half-read map.

    The reading thread is slowed down inside the read (the database answers, then the map is built) so that
    the others arrive while it works: each waits for, or makes, a whole map, and every card is accepted.
    """
    import contextlib
    import threading
    from collections.abc import Iterator

    from openmyna.jpki import ocsp
    from openmyna.jpki.ocsp import Responder
    from openmyna.jpki.verify import verify_signature

    card = active_card()
    db.commit()
    reader = VirtualReader(session_factory, ca_config.keys, card.id)
    der = reader.certificate("auth")
    signature = reader.sign("auth", AUTH_PIN, data=b"challenge")
    guard = threading.Lock()

    @contextlib.contextmanager
    def one_at_a_time() -> Iterator[Session]:
        # The test's sessions share one connection (savepoints), which two threads may not use at once; the
        # server's read-only factory gives each thread its own. The race under test is after the read.
        with guard, session_factory() as session:
            yield session

    responder = Responder(one_at_a_time, ca_config)  # type: ignore[arg-type]
    slow_load = ocsp.load

    def load(config: CaConfig, row: object) -> object:
        started.set()
        threading.Event().wait(0.05)
        return slow_load(config, row)  # type: ignore[arg-type]

    started = threading.Event()
    results: list[object] = []

    def login() -> None:
        try:
            results.append(verify_signature(responder, certificate_der=der, data=b"challenge", signature=signature))
        except Exception as exc:  # reported by the assertion below
            results.append(exc)

    original, ocsp.load = ocsp.load, load  # type: ignore[assignment]
    try:
        first = threading.Thread(target=login)
        first.start()
        started.wait(5)
        others = [threading.Thread(target=login) for _ in range(4)]
        for thread in others:
            thread.start()
        for thread in [first, *others]:
            thread.join()
    finally:
        ocsp.load = original  # type: ignore[assignment]
    assert [getattr(r, "serial", r) for r in results] == [card.auth_serial] * 5
