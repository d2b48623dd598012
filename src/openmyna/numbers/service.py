"""Issuing My Numbers and corporate numbers, and deriving agency-specific codes.

Numbers are drawn uniformly at random among valid numbers (a random 11- or 12-digit body plus its
check digit), recorded as keyed hashes in :class:`IssuedNumber` whose unique constraint is the
arbiter between concurrent issuers: a candidate that loses the race is replaced and tried again.
A My Number is recorded by its person link (``numbers.protection``), which no key rotation changes.
"""

from __future__ import annotations

import base64
import random
import secrets
from collections.abc import Callable

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from stdnum.jp import cn, in_

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Conflict
from openmyna.numbers import protection
from openmyna.numbers.models import IssuedNumber

INDIVIDUAL = "individual"
CORPORATE = "corporate"
_MAX_ROUNDS = 20
AGENCY_CODE_KEY = "agency-pseudonym/v1"  # the numbering authority's secret for agency-specific codes


class IssuanceExhausted(Conflict):
    slug = "issuance-exhausted"
    title_ja = "番号を払い出せません"
    title_en = "No number could be issued"


def corporate_number_lookup(keys: KeyRing, number: str) -> bytes:
    """The issued-numbers ledger's key for a corporate number (public, hashed only to share one table)."""
    return keys.mac(protection.IDENTITY, b"corporate-number:" + number.encode())


def random_my_number(rng: random.Random | None = None) -> str:
    body = f"{(rng or secrets.SystemRandom()).randrange(10**11):011d}"
    return body + in_.calc_check_digit(body)


def random_corporate_number(rng: random.Random | None = None) -> str:
    body = f"{(rng or secrets.SystemRandom()).randrange(10**12):012d}"
    return cn.calc_check_digit(body) + body


def _insert_ignoring_duplicates(connection: Connection, rows: list[dict[str, object]]) -> set[bytes]:
    """Insert rows, skipping hashes already present; return the hashes actually inserted."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(IssuedNumber).on_conflict_do_nothing(index_elements=["lookup"]).returning(IssuedNumber.lookup)
    )
    return set(connection.execute(statement, rows).scalars())


def _issue(
    bind: Session | Connection, *, count: int, kind: str, draw: Callable[[], str], lookup: Callable[[str], bytes]
) -> list[str]:
    connection = bind.connection() if isinstance(bind, Session) else bind
    issued: list[str] = []
    for _ in range(_MAX_ROUNDS):
        wanted = count - len(issued)
        if wanted == 0:
            return issued
        candidates: dict[bytes, str] = {}
        while len(candidates) < wanted:
            number = draw()
            candidates[lookup(number)] = number
        now = clock.now()
        inserted = _insert_ignoring_duplicates(
            connection, [{"kind": kind, "lookup": h, "issued_at": now} for h in candidates]
        )
        issued.extend(candidates[h] for h in candidates if h in inserted)
    raise IssuanceExhausted(f"gave up after {_MAX_ROUNDS} rounds of collisions issuing {count} {kind} numbers")


def issue_my_numbers(
    bind: Session | Connection, *, keys: KeyRing, count: int, rng: random.Random | None = None
) -> list[str]:
    """Issue ``count`` new My Numbers in the caller's transaction; never one issued before."""
    generator = rng or secrets.SystemRandom()
    return _issue(
        bind,
        count=count,
        kind=INDIVIDUAL,
        draw=lambda: random_my_number(generator),
        lookup=lambda n: protection.person_link(keys, n),
    )


def issue_corporate_numbers(
    bind: Session | Connection, *, keys: KeyRing, count: int, rng: random.Random | None = None
) -> list[str]:
    generator = rng or secrets.SystemRandom()
    return _issue(
        bind,
        count=count,
        kind=CORPORATE,
        draw=lambda: random_corporate_number(generator),
        lookup=lambda n: corporate_number_lookup(keys, n),
    )


def register_existing_my_number(bind: Session | Connection, *, keys: KeyRing, number: str) -> bool:
    """Record a My Number issued elsewhere (a resident moving in); False if it was already on record."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    lookup = protection.person_link(keys, number)
    return bool(
        _insert_ignoring_duplicates(connection, [{"kind": INDIVIDUAL, "lookup": lookup, "issued_at": clock.now()}])
    )


def agency_code(keys: KeyRing, *, agency: str, person: str) -> str:
    """The agency-specific code (機関別符号) of ``person`` at ``agency``.

    A keyed derivation inside the numbering authority: two agencies' codes for one person look
    unrelated, and only a holder of the authority's secret can link or recompute them.
    """
    digest = keys.mac(AGENCY_CODE_KEY, f"{agency}\x00{person}".encode())
    return base64.b32encode(digest[:20]).decode().rstrip("=")
