"""A small world for the network: the town, the pension office, an insurer, the ministry, the hub,
a few residents with tax and pension records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import demo
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry
from openmyna.registry.schemas import AddressIn, HouseholdChoice, ResidentCreate
from tests.conftest import bearer_for

AGENCIES = {"nenkin": "pension_office", "kyoukaikenpo": "insurer", "mhlw": "ministry", "jlis": "platform_operator"}


@dataclass
class World:
    keys: dict[str, bytes]
    residents: dict[str, int]
    numbers: dict[str, str]

    def headers(self, client: TestClient, org: str) -> dict[str, str]:
        return bearer_for(client, org, self.keys[org])


def _person(
    given: str, kana: str, born: str, sex: str, household: HouseholdChoice, address: AddressIn | None
) -> ResidentCreate:
    return ResidentCreate(
        kind="move_in",
        family_name="川口",
        given_name=given,
        family_name_kana="カワグチ",
        given_name_kana=kana,
        birth_date=dt.date.fromisoformat(born),
        sex=sex,  # type: ignore[arg-type]
        event_date=dt.date(2020, 4, 1),
        address=address,
        household=household,
    )


@pytest.fixture
def world(db: Session, keys: KeyRing, town, clerk) -> World:
    private = {"131016": town.private_key_pem}
    for code, kind in AGENCIES.items():
        private[code] = orgs.add_organisation(
            db, keys=keys, code=code, name=code, kind=kind, custodial=True
        ).private_key_pem
    address = AddressIn(postal_code="1020072", block="1番1号")
    parent = registry.create_resident(
        db,
        keys=keys,
        municipality_code="131016",
        caller=clerk,
        data=_person("洋子", "ヨウコ", "1985-05-05", "female", HouseholdChoice(), address),
    )
    child = registry.create_resident(
        db,
        keys=keys,
        municipality_code="131016",
        caller=clerk,
        data=_person(
            "陸",
            "リク",
            "2015-08-08",
            "male",
            HouseholdChoice(household_id=parent.household_id, relationship="child"),
            None,
        ),
    )
    elder = registry.create_resident(
        db,
        keys=keys,
        municipality_code="131016",
        caller=clerk,
        data=_person(
            "茂", "シゲル", "1950-01-15", "male", HouseholdChoice(), AddressIn(postal_code="1010021", block="2番2号")
        ),
    )
    db.flush()
    demo.seed_ledgers(db, keys=keys, municipality="131016", seed=1)
    db.commit()
    residents = {"parent": parent.id, "child": child.id, "elder": elder.id}
    numbers = {}
    for name, resident_id in residents.items():
        resident = registry.find_resident(db, resident_id=resident_id)
        assert resident is not None
        numbers[name] = registry.my_number_of(keys, resident)
    return World(private, residents, numbers)


def obtain_code(client: TestClient, world: World, agency: str, person: str) -> str:
    response = client.post(
        "/api/network/codes", json={"my_number": world.numbers[person]}, headers=world.headers(client, agency)
    )
    assert response.status_code == 200, response.text
    return response.json()["code"]
