"""Finding corporations by name (partial match in Japanese, 1 character and up) and by filters.

SQLite: the longest query term drives an FTS5 index (trigram for 3+ characters, the 2-character token
index for 1–2), in rowid order, and the other terms are checked on the stored search text; no bm25
ranking, so a broad term such as 株式会社 costs what 20 rows cost. PostgreSQL: pg_trgm's GIN index serves
LIKE for 3+ characters and a GIN-indexed tsvector of the same 2-character tokens serves shorter terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from openmyna.corporate.text import FIELD_SEPARATOR, bigram_query, normalise

RESULT_COLUMNS = (
    "number, process, update_date, change_date, name, kind, prefecture_name, city_name, street_number, "
    "prefecture_code, city_code, post_code, close_date, close_cause, successor_corporate_number, furigana, en_name, "
    "assignment_date, address_outside, hihyoji, latest"
)


@dataclass(frozen=True)
class Filters:
    """What a search may ask for; every field is optional and they combine with AND."""

    name: str = ""
    numbers: tuple[int, ...] = ()
    prefecture_code: str | None = None
    city_code: str | None = None
    kinds: tuple[str, ...] = ()
    open_only: bool | None = None  # True: existing only, False: closed only
    activity_kinds: tuple[str, ...] = ()
    activity_title: dict[str, str] = field(default_factory=dict)  # kind → text in the title
    amount_range: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # kind → (from, to)
    ministry: str | None = None
    updated_from: str | None = None
    updated_to: str | None = None
    name_prefix: bool = False
    impossible: bool = False  # asks for data the registry does not hold (e.g. patents): no match


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _name_clause(connection: Connection, terms: list[str], params: dict[str, Any]) -> tuple[str, list[str]]:
    """(FROM clause, WHERE parts) that restrict to names containing every term."""
    postgresql = connection.dialect.name == "postgresql"
    driver = max(terms, key=len)
    rest = [t for t in terms if t is not driver]
    where: list[str] = []
    source = "corporate_corporations c"
    if postgresql:
        # tsquery writes a prefix as 'token:*' where FTS5 writes 'token*'.
        params["driver"] = bigram_query(driver).replace("*", ":*") if len(driver) < 3 else _like(driver)
        where.append(
            "c.bigrams @@ CAST(:driver AS tsquery)" if len(driver) < 3 else "c.search_text LIKE :driver ESCAPE '\\'"
        )
    elif len(driver) >= 3:
        params["driver"] = _fts_phrase(driver)
        source = "corporate_search_trigram f JOIN corporate_corporations c ON c.number = f.rowid"
        where.append("corporate_search_trigram MATCH :driver")
    else:
        params["driver"] = bigram_query(driver)
        source = "corporate_search_bigram f JOIN corporate_corporations c ON c.number = f.rowid"
        where.append("corporate_search_bigram MATCH :driver")
    for index, term in enumerate(rest):
        params[f"term{index}"] = term
        where.append(f"{'strpos' if postgresql else 'instr'}(c.search_text, :term{index}) > 0")
    return source, where


def _where(connection: Connection, filters: Filters, params: dict[str, Any]) -> tuple[str, list[str]]:
    source = "corporate_corporations c"
    where: list[str] = []
    terms = normalise(filters.name).replace(FIELD_SEPARATOR, " ").split()
    if terms:
        source, where = _name_clause(connection, terms, params)
        if filters.name_prefix:
            params["prefix"] = normalise(filters.name)
            where.append("substr(c.search_text, 1, length(:prefix)) = :prefix")
    if filters.impossible:
        where.append("1 = 0")
    if filters.numbers:
        marks = ", ".join(f":n{i}" for i in range(len(filters.numbers)))
        params.update({f"n{i}": n for i, n in enumerate(filters.numbers)})
        where.append(f"c.number IN ({marks})")
    if filters.prefecture_code:
        params["prefecture"] = filters.prefecture_code
        where.append("c.prefecture_code = :prefecture")
    if filters.city_code:
        params["city"] = filters.city_code
        where.append("c.city_code = :city")
    if filters.kinds:
        params.update({f"k{i}": k for i, k in enumerate(filters.kinds)})
        where.append(f"c.kind IN ({', '.join(f':k{i}' for i in range(len(filters.kinds)))})")
    if filters.open_only is True:
        where.append("c.close_date IS NULL AND c.process NOT IN ('21', '71', '81', '99')")
    elif filters.open_only is False:
        where.append("(c.close_date IS NOT NULL OR c.process IN ('21', '71', '81', '99'))")
    if filters.updated_from:
        params["updated_from"] = filters.updated_from
        where.append("c.update_date >= :updated_from")
    if filters.updated_to:
        params["updated_to"] = filters.updated_to
        where.append("c.update_date <= :updated_to")
    kinds = set(filters.activity_kinds) | set(filters.activity_title) | set(filters.amount_range)
    for index, kind in enumerate(sorted(kinds)):
        parts = [f"a.number = c.number AND a.linked = :true AND a.kind = :ak{index}"]
        params[f"ak{index}"] = kind
        params["true"] = True
        if kind in filters.activity_title:
            params[f"at{index}"] = filters.activity_title[kind]
            parts.append(f"{'strpos' if connection.dialect.name == 'postgresql' else 'instr'}(a.title, :at{index}) > 0")
        low, high = filters.amount_range.get(kind, (None, None))
        if low is not None:
            params[f"alo{index}"] = low
            parts.append(f"a.amount >= :alo{index}")
        if high is not None:
            params[f"ahi{index}"] = high
            parts.append(f"a.amount <= :ahi{index}")
        if filters.ministry:
            params["ministry"] = _like(filters.ministry)
            parts.append("a.government_departments LIKE :ministry ESCAPE '\\'")
        where.append(f"EXISTS (SELECT 1 FROM corporate_activities a WHERE {' AND '.join(parts)})")
    if filters.ministry and not kinds:
        params["ministry"] = _like(filters.ministry)
        where.append(
            "EXISTS (SELECT 1 FROM corporate_activities a WHERE a.number = c.number "
            "AND a.government_departments LIKE :ministry ESCAPE '\\')"
        )
    where.append("c.hihyoji = '0'")
    return source, where


def search(connection: Connection, filters: Filters, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Up to ``limit`` corporations matching ``filters`` (in corporate-number order on SQLite)."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    source, where = _where(connection, filters, params)
    columns = ", ".join(f"c.{c.strip()}" for c in RESULT_COLUMNS.split(","))
    sql = f"SELECT {columns} FROM {source} WHERE {' AND '.join(where)} LIMIT :limit OFFSET :offset"
    return [dict(row._mapping) for row in connection.execute(text(sql), params)]


def activity_counts(connection: Connection, numbers: list[int]) -> dict[int, int]:
    """How many linked activity records each corporation has."""
    if not numbers:
        return {}
    params = {f"n{i}": n for i, n in enumerate(numbers)}
    marks = ", ".join(f":n{i}" for i in range(len(numbers)))
    rows = connection.execute(
        text(
            f"SELECT number, count(*) FROM corporate_activities WHERE number IN ({marks}) AND linked = :true "
            "GROUP BY number"
        ),
        {**params, "true": True},
    )
    return {number: count for number, count in rows}
