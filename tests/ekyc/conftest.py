"""eKYC fixtures: the platform operator with a bank (all four facts) and a phone company, and their tokens."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.ekyc import demo
from openmyna.orgs import service as orgs
from tests.card.conftest import AUTH_PIN, SIGN_PIN, _configured, active_card, resident  # noqa: F401  (fixtures)
from tests.conftest import bearer_for
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)
from tests.portal.conftest import Holder, holder  # noqa: F401  (fixtures)

BANK, PHONE = demo.BANK, demo.PHONE
APPLICATION = "普通預金口座開設"


@dataclass
class Businesses:
    bank: dict[str, str]
    phone: dict[str, str]


@pytest.fixture
def businesses(db: Session, keys: KeyRing, client: TestClient) -> Businesses:
    """The demo operator and its two businesses, registered as the seed does, with bearer headers for each."""
    demo.ensure_businesses(db, keys=keys)
    db.commit()
    headers = [
        bearer_for(client, code, orgs.custodial_private_key(keys, orgs.get_organisation(db, code)))
        for code in (BANK, PHONE)
    ]
    return Businesses(*headers)


def challenge(client: TestClient, headers: dict[str, str], purpose: str) -> bytes:
    answer = client.post("/api/ekyc/challenges", json={"purpose": purpose}, headers=headers)
    assert answer.status_code == 200, answer.text
    return base64.b64decode(answer.json()["challenge"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def opening_body(
    client: TestClient, headers: dict[str, str], person: Holder, *, facts: list[str] | None = None
) -> dict[str, Any]:
    """What a bank's system sends: a fresh challenge and the application, signed with the signing key."""
    data = challenge(client, headers, "account_opening")
    body: dict[str, Any] = {
        "challenge": b64(data),
        "application": APPLICATION,
        "certificate": b64(person.reader.certificate("sign", pin=SIGN_PIN)),
        "signature": b64(person.reader.sign("sign", SIGN_PIN, data=data + b"\n" + APPLICATION.encode())),
    }
    if facts is not None:
        body["facts"] = facts
    return body


def login_body(client: TestClient, headers: dict[str, str], person: Holder) -> dict[str, str]:
    data = challenge(client, headers, "login")
    return {
        "challenge": b64(data),
        "certificate": b64(person.reader.certificate("auth")),
        "signature": b64(person.reader.sign("auth", AUTH_PIN, data=data)),
    }
