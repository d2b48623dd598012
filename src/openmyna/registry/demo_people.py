"""Who lives in the demo town: the fixed personas and generated households of realistic shape.

Names come from Faker's ja_JP tables (kanji with their katakana readings), household shapes and ages from
one seeded RNG, addresses from the municipality's real postal areas; nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from faker.providers.person.ja_JP import Provider as JapaneseNames

from openmyna.core import clock
from openmyna.registry import addresses

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
        # Cumulative weights once, not per draw: ``choices`` draws the same name from them.
        self.family_cum_weights = list(itertools.accumulate(float(w) for w in pairs.values()))
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
        family = rng.choices(self.family_names, cum_weights=self.family_cum_weights)[0]
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
                spouse.former_family = rng.choices(self.family_names, cum_weights=self.family_cum_weights)[0]
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


def random_address(
    rng: random.Random, areas: tuple[addresses.PostalArea, ...]
) -> tuple[addresses.PostalArea, str, str]:
    """A postal area with a block number (and a building and room, for some) in it."""
    area = rng.choice(areas)
    block = f"{rng.randint(1, 30)}番{rng.randint(1, 25)}号"
    if area.has_chome:
        block = f"{_KANJI_DIGITS[rng.randint(1, 4)]}丁目{block}"
    building = rng.choice(_BUILDINGS)
    if building:
        building = f"{building}{area.town[:2]} {rng.randint(1, 12)}0{rng.randint(1, 9)}号室"
    return area, block, building


def households(rng: random.Random, count: int, today: dt.date) -> Iterator[DemoHousehold]:
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
