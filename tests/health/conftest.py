"""Health fixtures: the clearing house, insurers and a clinic, and residents with cards and insurance."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.health import insurers
from openmyna.registry import service as registry
from tests.card.conftest import AUTH_PIN, _configured, active_card, resident  # noqa: F401  (fixtures)
from tests.conftest import bearer_for
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)
from tests.portal.conftest import Holder, holder  # noqa: F401  (fixtures)

CLINIC, OTHER_CLINIC = "1310112345", "1330112342"
KYOKAI, KENPO = "kyoukaikenpo", "openmyna-kenpo"


@dataclass
class World:
    clinic_headers: dict[str, str]
    other_headers: dict[str, str]


@pytest.fixture
def world(db: Session, keys: KeyRing, client: TestClient) -> World:
    insurers.ensure_clearing_house(db, keys=keys)
    insurers.register_insurer(
        db, keys=keys, code=KYOKAI, name="全国健康保険協会", insurer_number="01130012", scheme="kyokai"
    )
    insurers.register_insurer(
        db, keys=keys, code=KENPO, name="オープンマイナ健康保険組合", insurer_number="06131239", scheme="kumiai"
    )
    clinic = insurers.register_clinic(db, keys=keys, code=CLINIC, name="千代田内科クリニック")
    other = insurers.register_clinic(db, keys=keys, code=OTHER_CLINIC, name="神田歯科医院")
    db.commit()
    pems = {code: _private_pem(keys, org) for code, org in ((CLINIC, clinic), (OTHER_CLINIC, other))}
    return World(bearer_for(client, CLINIC, pems[CLINIC]), bearer_for(client, OTHER_CLINIC, pems[OTHER_CLINIC]))


def _private_pem(keys: KeyRing, org: Any) -> bytes:
    from openmyna.orgs import service as orgs

    return orgs.custodial_private_key(keys, org)


@pytest.fixture
def insured(
    db: Session,
    keys: KeyRing,
    holder: Callable[..., Holder],  # noqa: F811
) -> Callable[..., Holder]:
    """A resident with a card in use, insured from ``since`` by ``insurer`` (or not at all)."""

    def make(insurer: str | None = KYOKAI, since: dt.date = dt.date(2020, 4, 1), ratio: float = 0.3) -> Holder:
        person = holder()
        if insurer is not None:
            enrol(db, keys, person, insurer=insurer, since=since, ratio=ratio)
        db.commit()
        return person

    return make


def my_number(db: Session, keys: KeyRing, person: Holder) -> str:
    found = registry.find_resident(db, resident_id=person.resident_id)
    assert found is not None
    return registry.my_number_of(keys, found)


def enrol(db: Session, keys: KeyRing, person: Holder, *, insurer: str, since: dt.date, ratio: float = 0.3) -> Any:
    row = insurers.enrol(
        db,
        keys=keys,
        insurer=insurer,
        my_number=my_number(db, keys, person),
        symbol="1001",
        number=str(person.resident_id),
        branch="00",
        burden_ratio=ratio,
        valid_from=since,
    )
    db.commit()
    return row


def signed_body(
    client: TestClient, headers: dict[str, str], person: Holder, *, share: bool = False, pin: str = AUTH_PIN
) -> dict[str, str]:
    """What a terminal sends: a fresh challenge signed by the card through its reader."""
    answer = client.post("/api/health/challenges", json={"share_records": share}, headers=headers)
    assert answer.status_code == 200, answer.text
    challenge = base64.b64decode(answer.json()["challenge"])
    return {
        "challenge": base64.b64encode(challenge).decode(),
        "certificate": base64.b64encode(person.reader.certificate("auth")).decode(),
        "signature": base64.b64encode(person.reader.sign("auth", pin, data=challenge)).decode(),
    }
