"""The card abroad (海外転出後の継続利用), through the HTTP API: a move abroad keeps the card and its
authentication certificate, revokes the signing certificate, and a new one carries the 国外転出者
statement; a return moves the card to the new record; a death abroad revokes everything.

OCSP is asked with ``openssl ocsp`` (request and verification) over the app's own responder.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card.reader import VirtualReader
from openmyna.core.crypto import KeyRing
from openmyna.jpki.profiles import OVERSEAS_RESIDENT, facts_in
from openmyna.orgs import service as orgs
from tests.card.conftest import AUTH_PIN, SIGN_PIN
from tests.conftest import bearer_for
from tests.registry.test_api import assert_problem, mover

NUMBER = "6214-9832-0257"
ABROAD = {
    "event_date": "2026-06-01",
    "destination": "アメリカ合衆国ニューヨーク州ニューヨーク市フィフス・アベニュー1番",
    "destination_country": "US",
}
HOME_AGAIN = {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "7番2号"}


def _card(client: TestClient, headers: dict[str, str], resident_id: int) -> dict[str, Any]:
    """A card taken through application, manufacture, setup and hand-over, all over HTTP."""
    made = client.post("/api/cards", json={"resident_id": resident_id}, headers=headers)
    assert made.status_code == 201, made.text
    card_id = made.json()["id"]
    for step in ("manufacture", "setup"):
        assert client.post(f"/api/cards/{card_id}/{step}", headers=headers).status_code == 200
    body = {"auth_pin": AUTH_PIN, "sign_pin": SIGN_PIN, "identity_checked": True}
    handed = client.post(f"/api/cards/{card_id}/hand-over", json=body, headers=headers)
    assert handed.status_code == 200 and handed.json()["state"] == "active", handed.text
    return handed.json()


@pytest.fixture
def holder(client: TestClient, town_headers: dict[str, str]) -> dict[str, Any]:
    """A resident who moved in with a known My Number, holding an active card with both certificates."""
    created = client.post("/api/registry/residents", json=mover(my_number=NUMBER), headers=town_headers)
    assert created.status_code == 201, created.text
    return _card(client, town_headers, created.json()["id"])


@pytest.fixture
def bank(db: Session, client: TestClient, keys: KeyRing) -> dict[str, str]:
    """A registered verifier (linked site) and its bearer token."""
    made = orgs.add_organisation(db, keys=keys, code="bank-abroad", name="銀行", kind="linked_site")
    db.commit()
    return bearer_for(client, "bank-abroad", made.private_key_pem)


def _move_abroad(client: TestClient, headers: dict[str, str], resident_id: int) -> dict[str, Any]:
    moved = client.post(f"/api/registry/residents/{resident_id}/move-out", json=ABROAD, headers=headers)
    assert moved.status_code == 200, moved.text
    return moved.json()


def _pem(client: TestClient, headers: dict[str, str], card_id: int, kind: str) -> str:
    reply = client.get(f"/api/cards/{card_id}/certificates/{kind}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.text


def _validity(client: TestClient, bank: dict[str, str], pem: str) -> dict[str, Any]:
    reply = client.post("/api/jpki/validity", json={"certificate": pem}, headers=bank)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _ocsp(client: TestClient, tmp_path: Path, kind: str, pem: str) -> str:
    """openssl builds the request, the app answers it, openssl verifies the answer against the CA."""
    ca, cert = tmp_path / f"{kind}-ca.pem", tmp_path / "cert.pem"
    request, response = tmp_path / "request.der", tmp_path / "response.der"
    ca.write_text(client.get(f"/jpki/ca/{kind}.pem").text)
    cert.write_text(pem)
    openssl = ["openssl", "ocsp", "-issuer", str(ca), "-cert", str(cert)]
    subprocess.run([*openssl, "-no_nonce", "-reqout", str(request)], check=True, capture_output=True, timeout=30)
    answer = client.post(
        "/jpki/ocsp", content=request.read_bytes(), headers={"Content-Type": "application/ocsp-request"}
    )
    response.write_bytes(answer.content)
    done = subprocess.run(
        [*openssl, "-respin", str(response), "-CAfile", str(ca)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and "Response verify OK" in done.stdout + done.stderr, done.stderr
    return done.stdout.replace(str(cert), "cert")


def _crl(client: TestClient, kind: str) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(client.get(f"/jpki/crl/{kind}.crl").content)


def _serial(pem: str) -> int:
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


def _events(client: TestClient, headers: dict[str, str], card_id: int) -> list[str]:
    return [e["event"] for e in client.get(f"/api/cards/{card_id}", headers=headers).json()["events"]]


def test_a_move_abroad_keeps_the_card_and_authentication_and_revokes_signing(
    client: TestClient,
    town_headers: dict[str, str],
    bank: dict[str, str],
    holder: dict[str, Any],
    session_factory: sessionmaker[Session],
    keys: KeyRing,
    tmp_path: Path,
) -> None:
    card_id = holder["id"]
    auth_pem, old_sign_pem = (_pem(client, town_headers, card_id, k) for k in ("auth", "sign"))
    record = _move_abroad(client, town_headers, holder["resident_id"])
    assert record["status"] == "moved_out" and record["destination_country"] == "US"
    assert record["destination_address"] == ABROAD["destination"]  # the removed record keeps where they went
    assert record["history"][-1]["record"]["destination_country"] == "US"

    card = client.get(f"/api/cards/{card_id}", headers=town_headers).json()
    assert card["state"] == "active" and card["abroad_since"] == ABROAD["event_date"]
    assert card["auth_serial"] == holder["auth_serial"] and _events(client, town_headers, card_id)[-2:] == [
        "signing_revoked",
        "moved_abroad",
    ]
    assert "cert: good" in _ocsp(client, tmp_path, "auth", auth_pem)
    signing = _ocsp(client, tmp_path, "sign", old_sign_pem)
    assert "cert: revoked" in signing and "Reason: affiliationChanged" in signing
    listed = _crl(client, "sign").get_revoked_certificate_by_serial_number(_serial(old_sign_pem))
    assert listed is not None
    assert (
        listed.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.affiliation_changed
    )
    assert _crl(client, "auth").get_revoked_certificate_by_serial_number(_serial(auth_pem)) is None

    auth = _validity(client, bank, auth_pem)
    assert auth["status"] == "good" and auth["holder_abroad_since"] == ABROAD["event_date"]
    old = _validity(client, bank, old_sign_pem)
    assert old["status"] == "revoked" and old["reason"] == "affiliation_changed" and old["replaced_by"] is None

    reissued = client.post(f"/api/cards/{card_id}/reissue-signing", headers=town_headers)
    assert reissued.status_code == 200, reissued.text
    new_pem = _pem(client, town_headers, card_id, "sign")
    new_cert = x509.load_pem_x509_certificate(new_pem.encode())
    facts = facts_in(new_cert)
    assert facts["address"] == OVERSEAS_RESIDENT and facts["name"] == "山田 花子"
    assert "飯田橋" not in facts["address"] and facts["birth_date"] == "19900203"
    localities = [a.value for a in new_cert.subject.get_attributes_for_oid(x509.NameOID.LOCALITY_NAME)]
    assert localities == ["東京都", "千代田区"]  # the municipality that keeps the record
    old = _validity(client, bank, old_sign_pem)
    assert old["replaced_by"]["serial"] == format(new_cert.serial_number, "x")
    new = _validity(client, bank, new_pem)
    assert new["status"] == "good" and new["holder_abroad_since"] == ABROAD["event_date"]
    assert "cert: good" in _ocsp(client, tmp_path, "sign", new_pem)
    face = VirtualReader(session_factory, keys, card_id).read_face(AUTH_PIN)
    assert face["address"] == OVERSEAS_RESIDENT and face["my_number"] == NUMBER.replace("-", "")


def test_coming_home_moves_the_card_to_the_new_record(
    client: TestClient, town_headers: dict[str, str], bank: dict[str, str], holder: dict[str, Any], tmp_path: Path
) -> None:
    card_id = holder["id"]
    auth_pem = _pem(client, town_headers, card_id, "auth")
    _move_abroad(client, town_headers, holder["resident_id"])
    assert client.post(f"/api/cards/{card_id}/reissue-signing", headers=town_headers).status_code == 200
    abroad_sign_pem = _pem(client, town_headers, card_id, "sign")

    back = mover(
        my_number=NUMBER,
        event_date="2026-09-01",
        previous_address=ABROAD["destination"],
        address=HOME_AGAIN,
    )
    returned = client.post("/api/registry/residents", json=back, headers=town_headers)
    assert returned.status_code == 201, returned.text
    new_id = returned.json()["id"]
    assert new_id != holder["resident_id"] and returned.json()["destination_country"] == ""

    card = client.get(f"/api/cards/{card_id}", headers=town_headers).json()
    assert card["state"] == "active" and card["resident_id"] == new_id and card["abroad_since"] is None
    assert card["resident_code"] == returned.json()["resident_code"]
    assert _events(client, town_headers, card_id)[-2:] == ["signing_revoked", "moved_in"]
    abroad_sign = _validity(client, bank, abroad_sign_pem)  # the 国外転出者 certificate no longer fits
    assert abroad_sign["status"] == "revoked" and abroad_sign["reason"] == "affiliation_changed"
    auth = _validity(client, bank, auth_pem)
    assert auth["status"] == "good" and auth["holder_abroad_since"] is None
    assert "cert: good" in _ocsp(client, tmp_path, "auth", auth_pem)

    assert client.post(f"/api/cards/{card_id}/reissue-signing", headers=town_headers).status_code == 200
    home_pem = _pem(client, town_headers, card_id, "sign")
    address = facts_in(x509.load_pem_x509_certificate(home_pem.encode()))["address"]
    assert address.endswith("飯田橋三丁目7番2号") and OVERSEAS_RESIDENT not in address
    assert _validity(client, bank, abroad_sign_pem)["replaced_by"]["serial"] == format(_serial(home_pem), "x")
    again = client.post("/api/cards", json={"resident_id": new_id}, headers=town_headers)
    assert again.status_code == 409  # the card followed the person: no second card


def test_a_death_abroad_revokes_everything(
    client: TestClient, town_headers: dict[str, str], bank: dict[str, str], holder: dict[str, Any], tmp_path: Path
) -> None:
    card_id, removed_id = holder["id"], holder["resident_id"]
    auth_pem = _pem(client, town_headers, card_id, "auth")
    _move_abroad(client, town_headers, removed_id)
    assert client.post(f"/api/cards/{card_id}/reissue-signing", headers=town_headers).status_code == 200
    sign_pem = _pem(client, town_headers, card_id, "sign")

    died = client.post(
        f"/api/registry/residents/{removed_id}/death", json={"event_date": "2026-08-01"}, headers=town_headers
    )
    assert died.status_code == 200, died.text
    assert died.json()["status"] == "deceased" and died.json()["destination_country"] == "US"
    assert client.get(f"/api/cards/{card_id}", headers=town_headers).json()["state"] == "revoked"
    for kind, pem in (("auth", auth_pem), ("sign", sign_pem)):
        answer = _validity(client, bank, pem)
        assert answer["status"] == "revoked" and answer["reason"] == "cessation_of_operation", kind
        assert "Reason: cessationOfOperation" in _ocsp(client, tmp_path, kind, pem)
        assert _crl(client, kind).get_revoked_certificate_by_serial_number(_serial(pem)) is not None
    again = client.post(
        f"/api/registry/residents/{removed_id}/death", json={"event_date": "2026-08-02"}, headers=town_headers
    )
    assert_problem(again, 409, "not-a-resident")


def test_only_a_named_foreign_country_makes_a_move_abroad(
    client: TestClient, town_headers: dict[str, str], bank: dict[str, str], holder: dict[str, Any]
) -> None:
    rid, card_id = holder["resident_id"], holder["id"]
    sign_pem = _pem(client, town_headers, card_id, "sign")
    for country, status in (("JP", 400), ("us", 422), ("USA", 422), ("", 422)):
        bad = client.post(
            f"/api/registry/residents/{rid}/move-out",
            json={**ABROAD, "destination_country": country},
            headers=town_headers,
        )
        assert_problem(bad, status)
    assert client.get(f"/api/registry/residents/{rid}", headers=town_headers).json()["status"] == "resident"
    assert _validity(client, bank, sign_pem)["status"] == "good"  # nothing was written

    domestic = {"event_date": "2026-06-01", "destination": "アメリカ合衆国"}  # no country: a move within Japan
    moved = client.post(f"/api/registry/residents/{rid}/move-out", json=domestic, headers=town_headers)
    assert moved.status_code == 200 and moved.json()["destination_country"] == ""
    card = client.get(f"/api/cards/{card_id}", headers=town_headers).json()
    assert card["state"] == "active" and card["abroad_since"] is None
    assert _validity(client, bank, sign_pem)["holder_abroad_since"] is None
    died = client.post(f"/api/registry/residents/{rid}/death", json={"event_date": "2026-08-01"}, headers=town_headers)
    assert_problem(died, 409, "not-a-resident")  # someone who moved elsewhere in Japan dies in another registry
