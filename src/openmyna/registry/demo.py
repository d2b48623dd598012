"""The demo town: reproducible households of realistic shape, loaded in bulk in one transaction.

Names come from Faker's ja_JP tables (kanji with their katakana readings), addresses from the
municipality's real postal areas, My Numbers from the numbers floor's issuer.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from faker.providers.person.ja_JP import Provider as JapaneseNames
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.core.db import bulk_insert, reset_sequence
from openmyna.numbers import formats
from openmyna.numbers import service as numbers
from openmyna.registry import addresses
from openmyna.registry.models import RESIDENT, Household, Resident, ResidentVersion
from openmyna.registry.service import MY_NUMBER_CONTEXT, my_number_of

BATCH = 10_000
_KANJI_DIGITS = "〇一二三四五六七八九"
_BUILDINGS = ("", "", "", "グランドメゾン", "パークハウス", "コーポ", "ハイツ", "レジデンス")


@dataclass
class Person:
    family: tuple[str, str]
    given: tuple[str, str]
    birth_date: dt.date
    sex: str
    relationship: str
    former_family: tuple[str, str] = ("", "")
    persona: str = ""


@dataclass
class DemoHousehold:
    members: list[Person]
    postal_code: str = ""
    block: str = ""
    building: str = ""
    formed_on: dt.date = field(default_factory=clock.today)


@dataclass(frozen=True)
class SeededPersona:
    key: str
    name: str
    resident_id: int
    resident_code: str
    my_number_masked: str
    birth_date: dt.date
    household_id: int


def personas(today: dt.date) -> list[DemoHousehold]:
    """Fixed residents that later parts (cards, portal, benefits) use in their demos."""
    return [
        DemoHousehold(
            [
                Person(("山田", "ヤマダ"), ("太郎", "タロウ"), dt.date(1986, 3, 3), "male", "head"),
                Person(
                    ("山田", "ヤマダ"),
                    ("花子", "ハナコ"),
                    dt.date(1988, 6, 12),
                    "female",
                    "spouse",
                    former_family=("佐藤", "サトウ"),
                    persona="parent",
                ),
                Person(("山田", "ヤマダ"), ("陽翔", "ハルト"), dt.date(2017, 9, 20), "male", "child"),
                Person(("山田", "ヤマダ"), ("結衣", "ユイ"), dt.date(2020, 12, 1), "female", "child"),
            ],
            "1020072",
            "三丁目5番1号",
            "飯田橋レジデンス 402号室",
            dt.date(2015, 4, 1),
        ),
        DemoHousehold(
            [
                Person(
                    ("佐々木", "ササキ"),
                    ("美咲", "ミサキ"),
                    dt.date(1990, 2, 14),
                    "female",
                    "head",
                    persona="single_parent",
                ),
                Person(("佐々木", "ササキ"), ("蓮", "レン"), dt.date(2016, 5, 5), "male", "child"),
            ],
            "1010021",
            "二丁目8番3号",
            "コーポ外神田 201号室",
            dt.date(2018, 10, 1),
        ),
        DemoHousehold(
            [
                Person(
                    ("鈴木", "スズキ"), ("一郎", "イチロウ"), dt.date(1948, 11, 23), "male", "head", persona="pensioner"
                ),
            ],
            "1020083",
            "4番2号",
            "",
            dt.date(1975, 5, 1),
        ),
        DemoHousehold(
            [
                Person(
                    ("高橋", "タカハシ"), ("健太", "ケンタ"), dt.date(1992, 7, 7), "male", "head", persona="employee"
                ),
            ],
            "1010065",
            "一丁目2番3号",
            "西神田ハイツ 305号室",
            dt.date(2021, 4, 1),
        ),
    ]


class _Generator:
    """Household shapes with ages and names drawn from one seeded RNG."""

    def __init__(self, rng: random.Random, today: dt.date) -> None:
        self.rng = rng
        self.today = today
        pairs = JapaneseNames.last_name_pairs
        self.family_names = [(k, kana) for (k, kana, _), _w in pairs.items()]
        self.family_weights = [float(w) for w in pairs.values()]
        self.female = [(k, kana) for k, kana, _ in JapaneseNames.first_name_female_pairs]
        self.male = [(k, kana) for k, kana, _ in JapaneseNames.first_name_male_pairs]

    def _birth(self, low: int, high: int) -> dt.date:
        days = self.rng.randrange(low * 365, high * 365 + 1)
        return self.today - dt.timedelta(days=days)

    def _person(
        self, family: tuple[str, str], age: tuple[int, int], relationship: str, sex: str | None = None
    ) -> Person:
        sex = sex or self.rng.choice(("male", "female"))
        given = self.rng.choice(self.male if sex == "male" else self.female)
        return Person(family, given, self._birth(*age), sex, relationship)

    def household(self) -> DemoHousehold:
        rng = self.rng
        family = rng.choices(self.family_names, self.family_weights)[0]
        shape = rng.choices(
            (
                "single",
                "couple",
                "couple_children",
                "single_parent",
                "elderly_couple",
                "elderly_single",
                "three_generations",
            ),
            (30, 16, 26, 7, 9, 9, 3),
        )[0]
        members: list[Person]
        if shape == "single":
            members = [self._person(family, (20, 64), "head")]
        elif shape in ("couple", "couple_children", "three_generations"):
            head = self._person(family, (25, 60), "head")
            spouse = self._person(family, (25, 60), "spouse", "female" if head.sex == "male" else "male")
            if rng.random() < 0.1:
                spouse.former_family = rng.choices(self.family_names, self.family_weights)[0]
            members = [head, spouse]
            if shape != "couple":
                youngest_parent = min(self.today.year - head.birth_date.year, self.today.year - spouse.birth_date.year)
                for _ in range(rng.choice((1, 1, 2, 2, 3))):
                    members.append(self._person(family, (0, max(0, min(22, youngest_parent - 20))), "child"))
            if shape == "three_generations":
                members.append(self._person(family, (70, 95), "parent"))
        elif shape == "single_parent":
            head = self._person(family, (25, 50), "head", rng.choice(("female", "female", "female", "male")))
            members = [head] + [self._person(family, (0, 17), "child") for _ in range(rng.choice((1, 1, 2)))]
        elif shape == "elderly_couple":
            head = self._person(family, (65, 92), "head")
            members = [head, self._person(family, (65, 92), "spouse", "female" if head.sex == "male" else "male")]
        else:
            members = [self._person(family, (65, 100), "head")]
        return DemoHousehold(members)


def _address(rng: random.Random, areas: tuple[addresses.PostalArea, ...]) -> tuple[addresses.PostalArea, str, str]:
    area = rng.choice(areas)
    block = f"{rng.randint(1, 30)}番{rng.randint(1, 25)}号"
    if area.has_chome:
        block = f"{_KANJI_DIGITS[rng.randint(1, 4)]}丁目{block}"
    building = rng.choice(_BUILDINGS)
    if building:
        building = f"{building}{area.town[:2]} {rng.randint(1, 12)}0{rng.randint(1, 9)}号室"
    return area, block, building


def _households(rng: random.Random, count: int, today: dt.date) -> Iterator[DemoHousehold]:
    """The personas' households first, then generated ones, until ``count`` residents exist."""
    generator = _Generator(rng, today)
    made = 0
    for household in personas(today):
        if made >= count:
            return
        made += len(household.members)
        yield household
    while made < count:
        household = generator.household()
        household.members = household.members[: count - made]
        made += len(household.members)
        yield household


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
    seeded: list[SeededPersona] = []
    batch: list[DemoHousehold] = []

    def flush() -> None:
        nonlocal household_id, resident_id, version_id
        people = sum(len(h.members) for h in batch)
        my_numbers = numbers.issue_my_numbers(connection, keys=keys, count=people, rng=rng)
        household_rows, resident_rows, version_rows = [], [], []
        for household in batch:
            household_id += 1
            if household.postal_code:
                area, block, building = by_code[household.postal_code], household.block, household.building
            else:
                area, block, building = _address(rng, areas)
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
                while True:
                    body = f"{rng.randrange(10**10):010d}"
                    code = body + formats.resident_code_check_digit(body)
                    if code not in used_codes:
                        used_codes.add(code)
                        break
                since = max(formed, person.birth_date)
                lookup = numbers.my_number_lookup(keys, number)
                resident_rows.append(
                    (
                        resident_id,
                        code,
                        lookup,
                        keys.seal(number.encode(), context=MY_NUMBER_CONTEXT),
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
    for household in _households(rng, residents, today):
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
