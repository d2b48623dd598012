"""A small world for the network: the town, the pension office, an insurer, the ministry, the hub,
a few residents registered through the registry API, with tax and pension records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.localtax import service as localtax
from openmyna.network import enrolment
from openmyna.orgs import service as orgs
from openmyna.pension import service as pension
from openmyna.registry import service as registry
from tests.conftest import bearer_for

AGENCIES = {"nenkin": "pension_office", "kyoukaikenpo": "insurer", "mhlw": "ministry", "jlis": "platform_operator"}


@dataclass
class World:
    keys: dict[str, bytes]
    residents: dict[str, int]
    numbers: dict[str, str]

    def headers(self, client: TestClient, org: str) -> dict[str, str]:
        return bearer_for(client, org, self.keys[org])


REGISTRY = "/api/registry/residents"


def _person(given: str, kana: str, born: str, sex: str, **place: Any) -> dict[str, Any]:
    """A move-in body for the registry API (a new My Number is issued: none is sent)."""
    return {
        "kind": "move_in",
        "family_name": "川口",
        "given_name": given,
        "family_name_kana": "カワグチ",
        "given_name_kana": kana,
        "birth_date": born,
        "sex": sex,
        "event_date": "2020-04-01",
        **place,
    }


def register(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> int:
    """Register a resident through the registry's HTTP API; returns the new record's id."""
    response = client.post(REGISTRY, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _assessed(db: Session, resident_id: int, incomes: dict[int, int], dependants: int = 0) -> None:
    for year, income in incomes.items():
        assessment = localtax.assess(fiscal_year=year, income=income, dependants=dependants)
        localtax.record_assessment(db, resident_id=resident_id, assessment=assessment)


@pytest.fixture
def world(client: TestClient, db: Session, keys: KeyRing, town, town_headers: dict[str, str]) -> World:
    """People registered through the registry API (the town enrols them on the network itself); the tax
    office and the pension office keep their ledgers through their own services; the pension office
    obtains its codes and keeps its local ids through the network's enrolment."""
    private = {"131016": town.private_key_pem}
    for code, kind in AGENCIES.items():
        private[code] = orgs.add_organisation(
            db, keys=keys, code=code, name=code, kind=kind, custodial=True
        ).private_key_pem
    db.commit()
    parent = register(
        client,
        town_headers,
        _person("洋子", "ヨウコ", "1985-05-05", "female", address={"postal_code": "1020072", "block": "1番1号"}),
    )
    household = client.get(f"{REGISTRY}/{parent}", headers=town_headers).json()["household_id"]
    child = register(
        client,
        town_headers,
        _person("陸", "リク", "2015-08-08", "male", household={"household_id": household, "relationship": "child"}),
    )
    elder = register(
        client,
        town_headers,
        _person("茂", "シゲル", "1950-01-15", "male", address={"postal_code": "1010021", "block": "2番2号"}),
    )
    residents = {"parent": parent, "child": child, "elder": elder}
    numbers = {}
    for name, resident_id in residents.items():
        resident = registry.find_resident(db, resident_id=resident_id)
        assert resident is not None
        numbers[name] = registry.my_number_of(keys, resident)
    year = clock.today().year
    _assessed(db, parent, {year - 1: 3_800_000, year: 3_900_000}, dependants=1)
    _assessed(db, elder, {year - 1: 1_500_000, year: 1_550_000})
    for name, category, enrolled in (("parent", "category_2", "2005-05-05"), ("elder", "category_1", "1970-01-15")):
        member = pension.add_member(
            db, member_number=f"00000000{len(name):02d}", category=category, enrolled_on=dt.date.fromisoformat(enrolled)
        )
        if name == "elder":
            pension.add_entitlement(
                db, member_id=member.id, kind="old_age_basic", annual_amount=795_000, since=dt.date(2015, 1, 15)
            )
        enrolment.issue_code(db, keys=keys, agency="nenkin", my_number=numbers[name], local_ref=member.id)
    db.commit()
    return World(private, residents, numbers)


def obtain_code(client: TestClient, world: World, agency: str, person: str) -> str:
    response = client.post(
        "/api/network/codes", json={"my_number": world.numbers[person]}, headers=world.headers(client, agency)
    )
    assert response.status_code == 200, response.text
    return response.json()["code"]
