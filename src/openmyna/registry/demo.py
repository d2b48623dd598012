"""The demo town loaded into the registry: reproducible households, in bulk, in one transaction.

Who lives there comes from :mod:`openmyna.registry.demo_people`; My Numbers from the numbers floor's issuer.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.core.db import bulk_insert, reset_sequence
from openmyna.numbers import formats, protection
from openmyna.numbers import service as numbers
from openmyna.registry import addresses
from openmyna.registry.demo_people import DemoHousehold, households, personas, random_address
from openmyna.registry.models import RESIDENT, Household, Resident, ResidentVersion
from openmyna.registry.service import my_number_of

BATCH = 10_000


@dataclass(frozen=True)
class SeededPersona:
    key: str
    name: str
    resident_id: int
    resident_code: str
    my_number_masked: str
    birth_date: dt.date
    household_id: int


def find_personas(session: Session, *, keys: KeyRing) -> list[SeededPersona]:
    """The personas of an already seeded town, found by their fixed names and birth dates."""
    found = []
    for household in personas(clock.today()):
        for person in household.members:
            if not person.persona:
                continue
            resident = session.scalar(
                select(Resident)
                .where(
                    Resident.full_name == person.family[0] + person.given[0], Resident.birth_date == person.birth_date
                )
                .order_by(Resident.id)
                .limit(1)
            )
            if resident is not None:
                found.append(
                    SeededPersona(
                        person.persona,
                        f"{resident.family_name} {resident.given_name}",
                        resident.id,
                        resident.resident_code,
                        formats.mask_my_number(my_number_of(keys, resident)),
                        resident.birth_date,
                        resident.household_id or 0,
                    )
                )
    return found


def seed_town(
    connection: Connection,
    *,
    keys: KeyRing,
    municipality_code: str,
    residents: int,
    seed: int,
    progress: Callable[[int], None] = lambda _n: None,
) -> list[SeededPersona]:
    """Load ``residents`` residents into an empty registry inside the caller's transaction."""
    if connection.scalar(select(func.count()).select_from(Resident)):
        raise RuntimeError("the registry already has residents; seed an empty database")
    rng = random.Random(seed)
    today = clock.today()
    areas = addresses.postal_areas(municipality_code)
    by_code = {a.postal_code: a for a in areas}
    prefecture, city = formats.municipality(municipality_code) or ("", "")
    now = clock.now()
    household_id = connection.scalar(select(func.max(Household.id))) or 0
    resident_id = connection.scalar(select(func.max(Resident.id))) or 0
    version_id = connection.scalar(select(func.max(ResidentVersion.id))) or 0
    used_codes: set[str] = set()
    generation = protection.generations(connection).current
    seeded: list[SeededPersona] = []
    batch: list[DemoHousehold] = []

    def flush() -> None:
        nonlocal household_id, resident_id, version_id
        people = sum(len(h.members) for h in batch)
        my_numbers = numbers.issue_my_numbers(connection, keys=keys, count=people, rng=rng)
        protected_numbers = protection.protect_many(keys, my_numbers, generation=generation)
        household_rows, resident_rows, version_rows = [], [], []
        for household in batch:
            household_id += 1
            if household.postal_code:
                area, block, building = by_code[household.postal_code], household.block, household.building
            else:
                area, block, building = random_address(rng, areas)
            oldest = min(p.birth_date for p in household.members)
            formed = (
                household.formed_on
                if household.postal_code
                else max(oldest + dt.timedelta(days=18 * 365), today - dt.timedelta(days=rng.randrange(30, 40 * 365)))
            )
            household_rows.append(
                (household_id, municipality_code, area.postal_code, area.town, block, building, formed, None)
            )
            address = f"{prefecture}{city}{area.town}{block}" + (f" {building}" if building else "")
            for person in household.members:
                resident_id += 1
                version_id += 1
                number = my_numbers.pop()
                protected, link = protected_numbers.pop()
                while True:
                    body = f"{rng.randrange(10**10):010d}"
                    code = body + formats.resident_code_check_digit(body)
                    if code not in used_codes:
                        used_codes.add(code)
                        break
                since = max(formed, person.birth_date)
                resident_rows.append(
                    (
                        resident_id,
                        code,
                        protected.lookup,
                        protected.sealed,
                        protected.generation,
                        protection.pseudonym_of_link(link),
                        household_id,
                        person.relationship,
                        person.family[0],
                        person.given[0],
                        person.family[1],
                        person.given[1],
                        person.family[0] + person.given[0],
                        person.family[1] + person.given[1],
                        person.former_family[0],
                        person.former_family[1],
                        person.birth_date,
                        person.sex,
                        municipality_code,
                        prefecture,
                        city,
                        area.postal_code,
                        area.town,
                        block,
                        building,
                        RESIDENT,
                        since,
                        since,
                        "",
                        None,
                        "",
                        1,
                    )
                )
                record = {
                    "family_name": person.family[0],
                    "given_name": person.given[0],
                    "family_name_kana": person.family[1],
                    "given_name_kana": person.given[1],
                    "former_family_name": person.former_family[0],
                    "former_family_name_kana": person.former_family[1],
                    "birth_date": person.birth_date.isoformat(),
                    "sex": person.sex,
                    "postal_code": area.postal_code,
                    "address": address,
                    "household_id": household_id,
                    "relationship": person.relationship,
                    "status": RESIDENT,
                    "became_resident_on": since.isoformat(),
                    "address_since": since.isoformat(),
                    "previous_address": "",
                    "removed_on": None,
                    "destination_address": "",
                }
                event = "birth" if person.birth_date >= formed else "move_in"
                version_rows.append((version_id, resident_id, 1, event, since, None, since, now, record))
                if person.persona:
                    seeded.append(
                        SeededPersona(
                            person.persona,
                            f"{person.family[0]} {person.given[0]}",
                            resident_id,
                            code,
                            formats.mask_my_number(number),
                            person.birth_date,
                            household_id,
                        )
                    )
        bulk_insert(connection, Household.__table__, _HOUSEHOLD_COLUMNS, household_rows)
        bulk_insert(connection, Resident.__table__, _RESIDENT_COLUMNS, resident_rows)
        bulk_insert(connection, ResidentVersion.__table__, _VERSION_COLUMNS, version_rows)
        progress(people)
        batch.clear()

    pending = 0
    for household in households(rng, residents, today):
        batch.append(household)
        pending += len(household.members)
        if pending >= BATCH:
            flush()
            pending = 0
    if batch:
        flush()
    for table in (Household.__table__, Resident.__table__, ResidentVersion.__table__):
        reset_sequence(connection, table)
    return seeded


_HOUSEHOLD_COLUMNS = (
    "id",
    "municipality_code",
    "postal_code",
    "address_town",
    "address_block",
    "address_building",
    "formed_on",
    "dissolved_on",
)
_RESIDENT_COLUMNS = (
    "id",
    "resident_code",
    "my_number_lookup",
    "my_number_sealed",
    "my_number_generation",
    "pseudonym",
    "household_id",
    "relationship_code",
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "full_name",
    "full_kana",
    "former_family_name",
    "former_family_name_kana",
    "birth_date",
    "sex",
    "municipality_code",
    "prefecture",
    "city",
    "postal_code",
    "address_town",
    "address_block",
    "address_building",
    "status",
    "became_resident_on",
    "address_since",
    "previous_address",
    "removed_on",
    "destination_address",
    "version",
)
_VERSION_COLUMNS = (
    "id",
    "resident_id",
    "seq",
    "event",
    "valid_from",
    "valid_to",
    "notified_on",
    "recorded_at",
    "snapshot",
)
