"""Enrolment through the registry: a person registered over the HTTP API is reachable on the network at
once, and stays reachable on the same codes after a move out, a death, a move to another town or back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.errors import UniqueViolation
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from openmyna.app import create_app
from openmyna.core import events
from openmyna.core.audit import AccessEvent, events_for
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.localtax import service as localtax
from openmyna.network import enrolment, service
from openmyna.network.models import CodeLink, LocalId
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry
from tests.conftest import bearer_for
from tests.network.conftest import World, register
from tests.registry.test_api import BASE, mover, newborn

MOVER_NUMBER = "621498320257"  # the number in tests.registry.test_api.mover
CHIYODA, CHUO = "131016", "131024"  # a resident of Chiyoda moves to Chūō
OSAKA = "大阪府大阪市北区梅田一丁目1番1号"


def code_of(client: TestClient, world: World, agency: str, number: str) -> str:
    """The agency obtains its own code for the person through the API."""
    response = client.post("/api/network/codes", json={"my_number": number}, headers=world.headers(client, agency))
    assert response.status_code == 200, response.text
    return response.json()["code"]


def ask(
    client: TestClient,
    world: World,
    code: str,
    *,
    requester: str = "nenkin",
    business: str = "national_pension_premium",
    town: str = CHIYODA,
    item: str = "resident_record",
) -> dict[str, Any]:
    """An agency asks a town about a person, naming them by the agency's own code."""
    response = client.post(
        "/api/network/queries",
        json={"business": business, "provider": town, "item": item, "subject_code": code},
        headers=world.headers(client, requester),
    )
    assert response.status_code == 200, response.text
    return response.json()


def move_out(client: TestClient, headers: dict[str, str], resident_id: int, destination: str = OSAKA) -> None:
    body = {"event_date": "2025-06-01", "destination": destination}
    response = client.post(f"{BASE}/residents/{resident_id}/move-out", json=body, headers=headers)
    assert response.status_code == 200, response.text


def number_of(db: Session, keys: KeyRing, resident_id: int) -> str:
    """The person's My Number as they would present it (the API shows it masked)."""
    resident = registry.find_resident(db, resident_id=resident_id)
    assert resident is not None
    return registry.my_number_of(keys, resident)


def town_record(db: Session, keys: KeyRing, number: str, town: str = CHIYODA) -> int | None:
    """The record the town's local id points at for the person."""
    code = service.code_for(keys, agency=town, link=enrolment.person_link(keys, number))
    return db.scalar(select(LocalId.local_ref).where(LocalId.agency == town, LocalId.code == code))


def links(db: Session, keys: KeyRing, number: str, agency: str = CHIYODA) -> int:
    link = enrolment.person_link(keys, number)
    query = select(func.count()).where(CodeLink.agency == agency, CodeLink.person_link == link)
    return db.scalar(query) or 0


def test_a_birth_and_a_move_in_are_reachable_at_once(
    client: TestClient, db: Session, keys: KeyRing, world: World, town_headers: dict[str, str]
) -> None:
    born = register(client, town_headers, newborn())
    moved = register(client, town_headers, mover())
    for resident_id, kind in ((born, "birth"), (moved, "move_in")):
        number = number_of(db, keys, resident_id)
        answer = ask(client, world, code_of(client, world, "nenkin", number))
        assert answer["result"] == "answered"
        assert answer["data"]["status"] == "resident" and answer["data"]["removed_on"] is None
        assert answer["data"]["household_size"] == 1 and answer["data"]["relationship"] == "head"
        assert town_record(db, keys, number) == resident_id
        # the person sees that the town obtained its code for them, and why
        resident = registry.find_resident(db, resident_id=resident_id)
        assert resident is not None
        issued = [e for e in events_for(db, registry.subject_of(resident)) if e.action == "network.code_issued"]
        assert [(e.actor_org, e.purpose) for e in issued] == [
            ("nenkin", "agency-specific code obtained"),
            (CHIYODA, f"code obtained on registration ({kind})"),
        ]
    # The town obtaining its code again through the API gets the code issued at registration: one link.
    town_code = code_of(client, world, CHIYODA, MOVER_NUMBER)
    assert links(db, keys, MOVER_NUMBER) == 1 and town_record(db, keys, MOVER_NUMBER) == moved
    own = ask(client, world, town_code, requester=CHIYODA, business="child_allowance")
    assert own["result"] == "answered" and own["data"]["status"] == "resident"


def test_without_the_subscription_a_registered_person_is_unknown_to_the_town(
    client: TestClient, world: World, town_headers: dict[str, str]
) -> None:
    """The control: what the platform did before enrolment went through the registry's events."""
    events.clear()  # re-made for the next test by the _wired fixture
    register(client, town_headers, mover())
    assert ask(client, world, code_of(client, world, "nenkin", MOVER_NUMBER))["result"] == "no_data"


def test_move_out_and_death_keep_the_removed_record_answering_on_the_same_codes(
    client: TestClient, db: Session, keys: KeyRing, world: World, town_headers: dict[str, str]
) -> None:
    moved = register(client, town_headers, mover())
    born = register(client, town_headers, newborn())
    assessment = localtax.assess(fiscal_year=2025, income=4_000_000, dependants=0)
    localtax.record_assessment(db, resident_id=moved, assessment=assessment)
    db.commit()
    numbers = {moved: MOVER_NUMBER, born: number_of(db, keys, born)}
    codes = {rid: code_of(client, world, "nenkin", number) for rid, number in numbers.items()}
    move_out(client, town_headers, moved)
    died = client.post(f"{BASE}/residents/{born}/death", json={"event_date": "2025-06-02"}, headers=town_headers)
    assert died.status_code == 200, died.text
    for resident_id, status, on in ((moved, "moved_out", "2025-06-01"), (born, "deceased", "2025-06-02")):
        answer = ask(client, world, codes[resident_id])
        assert answer["result"] == "answered"
        assert answer["data"]["status"] == status and answer["data"]["removed_on"] == on
        assert "household" not in answer["data"]  # the household it left is not the person's any more
        assert code_of(client, world, "nenkin", numbers[resident_id]) == codes[resident_id]  # codes never change
        assert town_record(db, keys, numbers[resident_id]) == resident_id  # kept for the removed record
    # what the town assessed while the person lived there is still answered from the removed record
    tax = ask(client, world, codes[moved], item="local_tax")
    assert tax["result"] == "answered" and tax["data"]["assessments"][0]["income"] == 4_000_000


@pytest.fixture
def chuo(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], db: Session, keys: KeyRing
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A second town on the same platform: Chūō's own registry app, with its own organisation and token."""
    created = orgs.add_organisation(db, keys=keys, code=CHUO, name="中央区", kind="municipality")
    db.commit()
    app = create_app(settings.model_copy(update={"municipality_code": CHUO}), engine=engine)
    app.state.session_factory = session_factory
    app.state.read_session_factory = session_factory
    with TestClient(app) as client:
        yield client, bearer_for(client, CHUO, created.private_key_pem)


def test_a_move_to_another_town_enrols_the_person_there_and_the_old_town_keeps_its_record(
    client: TestClient,
    db: Session,
    keys: KeyRing,
    world: World,
    town_headers: dict[str, str],
    chuo: tuple[TestClient, dict[str, str]],
) -> None:
    chuo_client, chuo_headers = chuo
    old = register(client, town_headers, mover())
    code = code_of(client, world, "nenkin", MOVER_NUMBER)
    move_out(client, town_headers, old, "東京都中央区日本橋小伝馬町1番1号")
    assert ask(client, world, code, town=CHUO)["result"] == "no_data"  # not yet registered there
    arrival = mover(
        event_date="2025-06-02",
        previous_address="東京都千代田区飯田橋三丁目5番1号",
        address={"postal_code": "1030001", "block": "1番1号"},
    )
    new = register(chuo_client, chuo_headers, arrival)
    assert new != old
    there = ask(client, world, code, town=CHUO)
    assert there["result"] == "answered" and there["data"]["status"] == "resident"
    assert there["data"]["resident_since"] == "2025-06-02"
    before = ask(client, world, code)
    assert before["result"] == "answered" and before["data"]["status"] == "moved_out"
    assert code_of(client, world, "nenkin", MOVER_NUMBER) == code  # the pension office's code is the same
    assert town_record(db, keys, MOVER_NUMBER, CHUO) == new and town_record(db, keys, MOVER_NUMBER) == old
    link = enrolment.person_link(keys, MOVER_NUMBER)
    assert service.code_for(keys, agency=CHUO, link=link) != service.code_for(keys, agency=CHIYODA, link=link)


def test_moving_back_in_points_the_town_at_the_new_record(
    client: TestClient, db: Session, keys: KeyRing, world: World, town_headers: dict[str, str]
) -> None:
    old = register(client, town_headers, mover())
    code = code_of(client, world, "nenkin", MOVER_NUMBER)
    move_out(client, town_headers, old)
    new = register(client, town_headers, mover(event_date="2025-09-01"))
    assert new != old and town_record(db, keys, MOVER_NUMBER) == new
    assert links(db, keys, MOVER_NUMBER) == 1  # the town's code for the person did not change
    back = ask(client, world, code)
    assert back["data"]["status"] == "resident" and back["data"]["resident_since"] == "2025-09-01"


def test_the_bulk_form_is_idempotent_and_follows_the_newest_record(db: Session, keys: KeyRing) -> None:
    people = [enrolment.Enrolee(bytes([i]) * 32, 100 + i) for i in range(3)]
    codes = enrolment.enrol(db, keys=keys, agency="nenkin", people=people)
    assert len(set(codes)) == 3
    assert codes == [service.code_for(keys, agency="nenkin", link=p.person_link) for p in people]
    again = enrolment.enrol(db, keys=keys, agency="nenkin", people=[enrolment.Enrolee(people[1].person_link, 999)])
    assert again == [codes[1]]
    assert db.scalar(select(func.count()).select_from(CodeLink).where(CodeLink.agency == "nenkin")) == 3
    refs = dict(db.execute(select(LocalId.code, LocalId.local_ref).where(LocalId.agency == "nenkin")).all())
    assert refs == {codes[0]: 100, codes[1]: 999, codes[2]: 102}
    subjects = db.scalars(select(AccessEvent.subject).where(AccessEvent.action == enrolment.CODE_ISSUED))
    assert sorted(subjects) == sorted(service.citizen_of(p.person_link) for p in [*people, people[1]])


def test_the_fresh_bulk_form_writes_the_same_rows_and_refuses_a_known_person(db: Session, keys: KeyRing) -> None:
    people = [enrolment.Enrolee(bytes([i]) * 32, 100 + i if i != 1 else None) for i in range(3)]
    codes = enrolment.enrol(db, keys=keys, agency="nenkin", people=people, fresh=True)
    assert codes == [service.code_for(keys, agency="nenkin", link=p.person_link) for p in people]
    links = db.execute(select(CodeLink.code, CodeLink.person_link).where(CodeLink.agency == "nenkin")).all()
    assert sorted(links) == sorted(zip(codes, (p.person_link for p in people), strict=True))
    refs = dict(db.execute(select(LocalId.code, LocalId.local_ref).where(LocalId.agency == "nenkin")).all())
    assert refs == {codes[0]: 100, codes[2]: 102}
    issued = select(func.count()).select_from(AccessEvent).where(AccessEvent.action == enrolment.CODE_ISSUED)
    assert db.scalar(issued) == 3
    db.commit()
    with pytest.raises((IntegrityError, UniqueViolation)):  # PostgreSQL's COPY raises the driver's own
        enrolment.enrol(db, keys=keys, agency="nenkin", people=[people[0]], fresh=True)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(CodeLink).where(CodeLink.agency == "nenkin")) == 3
