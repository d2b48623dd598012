"""Issuing My Numbers and corporate numbers, and deriving agency-specific codes.

Numbers are drawn uniformly at random among valid numbers (a random 11- or 12-digit body plus its
check digit), recorded as keyed hashes in :class:`IssuedNumber` whose unique constraint is the
arbiter between concurrent issuers: a candidate that loses the race is replaced and tried again.
A My Number is recorded by its person link (``numbers.protection``), which no key rotation changes.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import secrets
import struct
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from psycopg.errors import UniqueViolation
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from stdnum.jp import cn, in_

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.core.db import sqlite_page_cache
from openmyna.core.errors import Conflict
from openmyna.numbers import protection
from openmyna.numbers.models import IssuedNumber

INDIVIDUAL = "individual"
CORPORATE = "corporate"
_MAX_ROUNDS = 20
_CHUNK = 20_000  # candidates per statement: one chunk is written while the next one is drawn and hashed
AGENCY_CODE_KEY = "agency-pseudonym/v1"  # the numbering authority's secret for agency-specific codes
_TABLE = IssuedNumber.__table__


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


_BODIES = 10**11  # a My Number is an 11-digit body and a check digit
_BODY_DRAW_LIMIT = (2**64 // _BODIES) * _BODIES  # 64-bit draws at or above it are rejected: no body favoured
_CHECK_WEIGHTS = np.array([6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2], dtype=np.int64)  # the body's digits, left to right
_DIGIT_PLACES = 10 ** np.arange(10, -1, -1, dtype=np.int64)


def random_my_numbers(count: int, rng: random.Random | None = None) -> list[str]:
    """``count`` numbers drawn as :func:`random_my_number` draws one, as arrays: the bodies uniform by rejection
    over 64-bit words of ``rng.randbytes`` (``os.urandom`` for the default ``SystemRandom``), the check digits
    by the ordinance's weights (stdnum's ``calc_check_digit``) over all of them at once."""
    generator = rng or secrets.SystemRandom()
    bodies = np.empty(0, dtype=np.uint64)
    while len(bodies) < count:
        words = np.frombuffer(generator.randbytes(8 * (count - len(bodies))), dtype=np.uint64)
        bodies = np.concatenate([bodies, words[words < _BODY_DRAW_LIMIT] % _BODIES])
    signed = bodies.astype(np.int64)
    weighted = (signed[:, None] // _DIGIT_PLACES % 10 * _CHECK_WEIGHTS).sum(axis=1)
    numbers = signed * 10 + -weighted % 11 % 10
    return [f"{n:012d}" for n in numbers.tolist()]


def random_corporate_number(rng: random.Random | None = None) -> str:
    body = f"{(rng or secrets.SystemRandom()).randrange(10**12):012d}"
    return cn.calc_check_digit(body) + body


_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # PostgreSQL's binary timestamps count from here
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, no flags, no header extension
_PG_COPY_TRAILER = b"\xff\xff"
_LOOKUP_BYTES = 32  # every ledger hash is an HMAC-SHA-256
_SQLITE_CACHE_KIB = 64_000  # the hash index of about a million rows: the ledger's pages a bulk issuance dirties
# SQLite: a chunk's hashes travel as one blob, cut into rows by SQLite itself, so that a whole chunk is one
# statement run without the GIL (an executemany takes it back for every row, from the thread hashing the next).
# INSERT first, WITH after: Python 3.11's sqlite3 reports a rowcount only for statements that begin with INSERT.
_SQLITE_INSERT = (
    f"INSERT INTO {_TABLE.name} (kind, lookup, issued_at) "
    "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?) "
    f"SELECT ?, substr(?, n * {_LOOKUP_BYTES} + 1, {_LOOKUP_BYTES}), ? FROM i WHERE true "  # true: ON is the upsert's
    "ON CONFLICT (lookup) DO NOTHING"
)


def _binary_copy_rows(kind: str, lookups: list[bytes], now: dt.datetime) -> bytes:
    """Ledger rows in PostgreSQL's binary ``COPY`` format, assembled by one join: every row but its hash (always
    a 32-byte HMAC-SHA-256) is the same, three fields: kind (text), lookup (bytea), issued_at (timestamptz)."""
    name = kind.encode()
    before = struct.pack(">hi", 3, len(name)) + name + struct.pack(">i", _LOOKUP_BYTES)
    after = struct.pack(">iq", 8, (now - _PG_EPOCH) // dt.timedelta(microseconds=1))
    return _PG_COPY_HEADER + before + (after + before).join(lookups) + after + _PG_COPY_TRAILER


def _insert_ignoring_duplicates(connection: Connection, kind: str, lookups: list[bytes]) -> set[bytes]:
    """Record one ledger row per hash, skipping hashes already present; return the hashes actually inserted.

    A few statements for the whole batch. PostgreSQL: a binary ``COPY`` in a savepoint (a third of the server's
    cost of ``INSERT … ON CONFLICT`` per row). A hash already recorded makes it fail: the savepoint is rolled
    back, the hashes already recorded are looked up (one binary ``bytea[]``) and the rest copied again. Looking
    up first every time would cost the server a third as much again as the copy, while a collision is rare
    until the ledger holds billions (a chunk of 20,000 among 10^11 numbers); when it is frequent the first one
    comes early in the (random) chunk and little is copied in vain. If a concurrent issuer recorded one of them
    meanwhile, ``INSERT … ON CONFLICT DO NOTHING RETURNING`` says which went in. SQLite: one ``INSERT … SELECT
    … ON CONFLICT DO NOTHING`` cutting the joined hashes apart (``_SQLITE_INSERT``); as the transaction holds
    the database's one writer, when fewer rows were inserted than asked the inserted ones are exactly those past
    the highest id before the statement.
    """
    if not lookups:
        return set()
    if set(map(len, lookups)) != {_LOOKUP_BYTES}:
        raise ValueError(f"ledger hashes are {_LOOKUP_BYTES} bytes")
    now = clock.now()
    table = _TABLE.name
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:

            def copied(rows: list[bytes]) -> bool:
                """``rows`` copied in, or False (and nothing written) when one of them was recorded already."""
                cursor.execute("SAVEPOINT numbers_issue")
                try:
                    with cursor.copy(f"COPY {table} (kind, lookup, issued_at) FROM STDIN (FORMAT binary)") as copy:
                        copy.write(_binary_copy_rows(kind, rows, now))
                except UniqueViolation:
                    cursor.execute("ROLLBACK TO SAVEPOINT numbers_issue")
                    return False
                cursor.execute("RELEASE SAVEPOINT numbers_issue")
                return True

            if copied(lookups):
                return set(lookups)
            cursor.execute(f"SELECT lookup FROM {table} WHERE lookup = ANY(%b::bytea[])", (lookups,), binary=True)
            present = {bytes(row[0]) for row in cursor}
            fresh = [lookup for lookup in lookups if lookup not in present]
            if not fresh or copied(fresh):
                return set(fresh)
            cursor.execute(
                f"INSERT INTO {table} (kind, lookup, issued_at) SELECT %s, lookup, %s "
                "FROM unnest(%b::bytea[]) AS lookup ON CONFLICT (lookup) DO NOTHING RETURNING lookup",
                (kind, now, fresh),
                binary=True,
            )
            return {bytes(row[0]) for row in cursor}
    processor = _TABLE.c.issued_at.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    stamp = processor(now) if processor else now  # stored as an ORM insert stores it
    before = connection.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar() or 0
    result = connection.exec_driver_sql(_SQLITE_INSERT, (len(lookups), kind, b"".join(lookups), stamp))
    if result.rowcount == len(lookups):
        return set(lookups)
    return set(connection.exec_driver_sql(f"SELECT lookup FROM {table} WHERE id > ?", (before,)).scalars())


def _issue(
    bind: Session | Connection,
    *,
    count: int,
    kind: str,
    draw: Callable[[int], list[str]],
    lookups: Callable[[list[str]], list[bytes]],
) -> list[str]:
    """``count`` new numbers, the ledger's unique hash the arbiter.

    Candidates are drawn and hashed in chunks, each chunk written while the next is prepared: the database
    works (its own process on PostgreSQL; SQLite without the GIL) while Python hashes, on two cores. One
    chunk is in flight at a time, on the caller's connection, inside the caller's transaction.
    """
    connection = bind.connection() if isinstance(bind, Session) else bind
    issued: list[str] = []

    def written(pending: tuple[Future[set[bytes]], list[bytes], list[str]] | None) -> None:
        if pending is not None:
            inserted, hashes, numbers = pending[0].result(), pending[1], pending[2]
            if len(inserted) == len(numbers):
                issued.extend(numbers)
            else:
                issued.extend(number for lookup, number in zip(hashes, numbers, strict=True) if lookup in inserted)

    with (
        sqlite_page_cache(connection, _SQLITE_CACHE_KIB),
        ThreadPoolExecutor(1, thread_name_prefix="issuance") as writer,
    ):
        for _ in range(_MAX_ROUNDS):
            wanted = count - len(issued)
            if wanted == 0:
                return issued
            pending = None
            for start in range(0, wanted, _CHUNK):
                drawn = draw(min(_CHUNK, wanted - start))
                hashes = lookups(drawn)
                # Written in hash order, a number drawn twice once: the unique index is then written page by
                # page rather than at random places. Issued in the order drawn (a seeded world's residents
                # get the same numbers).
                first = np.unique(np.frombuffer(b"".join(hashes), dtype=f"S{_LOOKUP_BYTES}"), return_index=True)[1]
                chunk = writer.submit(
                    _insert_ignoring_duplicates, connection, kind, [hashes[i] for i in first.tolist()]
                )
                written(pending)
                kept = np.sort(first).tolist()
                pending = (chunk, [hashes[i] for i in kept], [drawn[i] for i in kept])
            written(pending)
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
        draw=lambda n: random_my_numbers(n, generator),
        lookups=lambda numbers: protection.person_links(keys, numbers),
    )


def issue_corporate_numbers(
    bind: Session | Connection, *, keys: KeyRing, count: int, rng: random.Random | None = None
) -> list[str]:
    generator = rng or secrets.SystemRandom()
    return _issue(
        bind,
        count=count,
        kind=CORPORATE,
        draw=lambda n: [random_corporate_number(generator) for _ in range(n)],
        lookups=lambda numbers: [corporate_number_lookup(keys, number) for number in numbers],
    )


def register_existing_my_number(bind: Session | Connection, *, keys: KeyRing, number: str) -> bool:
    """Record a My Number issued elsewhere (a resident moving in); False if it was already on record."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    return bool(_insert_ignoring_duplicates(connection, INDIVIDUAL, [protection.person_link(keys, number)]))


def agency_code(keys: KeyRing, *, agency: str, person: str) -> str:
    """The agency-specific code (機関別符号) of ``person`` at ``agency``.

    A keyed derivation inside the numbering authority: two agencies' codes for one person look
    unrelated, and only a holder of the authority's secret can link or recompute them.
    """
    return agency_codes(keys, agency=agency, persons=[person])[0]


def agency_codes(keys: KeyRing, *, agency: str, persons: list[str]) -> list[str]:
    """:func:`agency_code` of each person (enrolling a town), hashed and encoded as a batch: 20 bytes are
    exactly 32 base32 characters, so one encoding of the joined digests splits into the codes."""
    digests = keys.macs(AGENCY_CODE_KEY, [f"{agency}\x00{person}".encode() for person in persons])
    encoded = base64.b32encode(b"".join(digest[:20] for digest in digests)).decode()
    return [encoded[i : i + 32] for i in range(0, len(encoded), 32)]
