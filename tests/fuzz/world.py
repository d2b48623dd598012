"""The fuzz harness's world: every role's credentials and a little data, built through the public API.

Organisations, the agencies' tax and pension ledgers, the corporate registry and its API token have no
HTTP interface (an operator makes them with the CLI), so they come from the services the CLI calls (no
demo seeder's bulk inserts: the town enrols its residents on the network when they are registered);
residents, their household, a card in use, agency codes, exchanges and an activity record are made
through HTTP, as a municipality and an agency would.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.corporate import importer
from openmyna.corporate import service as corporate
from openmyna.ekyc import demo as ekyc_demo
from openmyna.localtax import service as localtax
from openmyna.network import enrolment, log
from openmyna.numbers.service import random_my_number
from openmyna.orgs import demo as orgs_demo
from openmyna.orgs import service as orgs
from openmyna.pension import service as pension
from openmyna.registry import service as registry
from tests.conftest import bearer_for
from tests.corporate.factories import number, row, write
from tests.registry.test_api import mover

TOWN = "131016"
AGENCY = "nenkin"  # the pension office
JLIS = "jlis"  # the platform operator
ORGANISER = "fuzz-live"  # an event organiser (ticketless entry)
ROLES = ("anonymous", "municipality", "agency", "jlis", "corporate", "citizen", "bank", "organiser")
CORPORATION = number(101)


@dataclass(frozen=True)
class World:
    """Headers per role, and the ids of what was made (the fuzzer may find them by chance or by example)."""

    headers: dict[str, dict[str, str]]
    query: dict[str, dict[str, str]]
    residents: list[int]
    my_numbers: list[str]
    card_id: int
    corporate_token: str


def _post(client: TestClient, path: str, body: object, headers: dict[str, str], status: int = 200) -> dict:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == status, f"{path}: {response.status_code} {response.text}"
    return response.json()


def _ledgers(db: Session, keys: KeyRing, *, residents: list[int], numbers: list[str]) -> None:
    """The town's tax ledger and the pension office's rolls, through their services (no HTTP interface),
    and the pension office's codes through the network's enrolment; the town enrolled its residents when
    they were registered."""
    year = clock.today().year
    for index, (resident_id, my_number) in enumerate(zip(residents, numbers, strict=True)):
        for fiscal_year in (year - 1, year):
            assessment = localtax.assess(fiscal_year=fiscal_year, income=3_800_000 - 1_000_000 * index, dependants=0)
            localtax.record_assessment(db, resident_id=resident_id, assessment=assessment)
        member = pension.add_member(
            db, member_number=f"{index + 1:010d}", category="category_1", enrolled_on=dt.date(2005, 4, 1)
        )
        enrolment.issue_code(db, keys=keys, agency=AGENCY, my_number=my_number, local_ref=member.id)
    db.commit()


def build(client: TestClient, db: Session, keys: KeyRing, tmp_path: Path) -> World:
    """Make the organisations, people, a card, exchanges and a corporation; return each role's headers."""
    orgs_demo.seed_organisations(db, keys=keys, municipality_code=TOWN)
    ekyc_demo.ensure_businesses(db, keys=keys)  # a platform operator and its bank, as `openmyna ekyc register` makes
    orgs.add_organisation(db, keys=keys, code=ORGANISER, name="Fuzz Live", kind="organiser", custodial=True)
    db.commit()
    codes = (TOWN, AGENCY, JLIS, ekyc_demo.BANK, ORGANISER)
    pems = {code: orgs.custodial_private_key(keys, orgs.get_organisation(db, code)) for code in codes}
    town = bearer_for(client, TOWN, pems[TOWN])
    rng = random.Random(7)
    numbers = [random_my_number(rng) for _ in range(3)]
    parent = _post(client, "/api/registry/residents", mover(my_number=numbers[0]), town, 201)
    child = mover(my_number=numbers[1], given_name="陸", given_name_kana="リク", birth_date="2015-08-08", sex="male")
    child.update(address=None, household={"household_id": parent["household_id"], "relationship": "child"})
    child = _post(client, "/api/registry/residents", child, town, 201)
    elder = _post(
        client,
        "/api/registry/residents",
        mover(my_number=numbers[2], given_name="茂", birth_date="1950-01-15"),
        town,
        201,
    )
    residents = [parent["id"], child["id"], elder["id"]]
    card = _post(client, "/api/cards", {"resident_id": parent["id"]}, town, 201)
    for step in ("manufacture", "setup"):
        _post(client, f"/api/cards/{card['id']}/{step}", None, town)
    _post(
        client,
        f"/api/cards/{card['id']}/hand-over",
        {"auth_pin": "1234", "sign_pin": "ABC123", "identity_checked": True},
        town,
    )
    _ledgers(db, keys, residents=[parent["id"], elder["id"]], numbers=[numbers[0], numbers[2]])
    agency = bearer_for(client, AGENCY, pems[AGENCY])
    code = _post(client, "/api/network/codes", {"my_number": numbers[0]}, agency)["code"]
    query = {"business": "national_pension_premium", "provider": TOWN, "item": "local_tax", "subject_code": code}
    _post(client, "/api/network/queries", query, agency)
    log.publish(db, keys=keys)
    importer.import_nta_file(db.connection(), write(tmp_path / "nta.csv", [row(CORPORATION)]))
    token = corporate.issue_token(db, name="fuzz")
    db.commit()
    activity = {
        "corporate_number": CORPORATION,
        "kind": "subsidy",
        "title": "IT導入補助金",
        "amount": 1_500_000,
        "government_departments": "千代田区",
    }
    _post(client, "/api/corporate/activities", activity, town, 201)
    person = registry.find_resident(db, resident_id=parent["id"])
    assert person is not None
    citizen = orgs.issue_access_token(
        keys, org_code=registry.subject_of(person), scopes={"self"}, issuer="http://testserver", ttl_seconds=3600
    )
    organiser = bearer_for(client, ORGANISER, pems[ORGANISER])
    event = {
        "code": "FUZZ-1",
        "name": "夏フェス",
        "venue": "武道館",
        "starts_at": "2030-08-01T17:30:00+09:00",
        "capacity": 9,
    }
    _post(client, "/api/tickets/events", event, organiser, 201)
    headers = {
        "anonymous": {},
        "municipality": town,
        "agency": agency,
        "jlis": bearer_for(client, JLIS, pems[JLIS]),
        "corporate": {"X-hojinInfo-api-token": token},
        "citizen": {"Authorization": f"Bearer {citizen['access_token']}"},
        "bank": bearer_for(client, ekyc_demo.BANK, pems[ekyc_demo.BANK]),
        "organiser": organiser,
    }
    query = {role: {"id": token} if role == "corporate" else {} for role in ROLES}
    return World(
        headers=headers,
        query=query,
        residents=residents,
        my_numbers=numbers,
        card_id=card["id"],
        corporate_token=token,
    )
