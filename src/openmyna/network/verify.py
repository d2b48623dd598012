"""``openmyna network verify``: recompute the exchange log's tree from storage and check every signed head.

Split from :mod:`openmyna.network.log` (which appends, sequences, proves and purges): verifying reads the
whole log, in parallel chunks, and names the first record that is modified, missing or out of place.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from json.encoder import encode_basestring as encode_json_string  # type: ignore[attr-defined]

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import merkle, person_map, tree_check
from openmyna.network.completeness import map_head_message
from openmyna.network.log import tree_head_message
from openmyna.network.models import ExchangeRecord, PurgeStatement, TreeHead


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    records: int
    heads: int
    problem: str = ""
    record_id: int | None = None
    leaf_index: int | None = None


CHUNK_LEVEL = 18  # verify in aligned chunks of 2^18 leaves, spread over one process per core
BLOCK = 4096  # PostgreSQL hashes the entries itself and sends each block's leaves as one value
_RECORDS_IN_RANGE = (
    "SELECT r.id, r.leaf_index, r.entry, r.purged, n.digest, r.citizen, r.exchange_id, r.side, r.agency, "
    "r.recorded_at FROM network_exchange_records r "
    "LEFT JOIN network_tree_nodes n ON n.key = r.leaf_index * 64 "
    "WHERE r.leaf_index >= {p} AND r.leaf_index < {p} ORDER BY r.leaf_index"
)
# Each stored column against the hashed entry, as the database checks it. The entry is canonical JSON
# with a fixed set of keys, so `"key":` occurs once, at the key, and a JSON string token is prefix-free:
# `"key":` followed by the column's JSON text occurs exactly when the entry's value equals the column.
_COLUMNS_MATCH = (
    "strpos(r.entry, '\"citizen\":' || to_json(r.citizen)::text) > 0 "
    "AND strpos(r.entry, '\"exchange\":' || to_json(r.exchange_id)::text) > 0 "
    "AND strpos(r.entry, '\"side\":' || to_json(r.side)::text) > 0 "
    "AND strpos(r.entry, CASE r.side WHEN 'requester' THEN '\"requester\":' WHEN 'provider' THEN '\"provider\":' END "
    "|| to_json(r.agency)::text) > 0 "
    "AND split_part(split_part(r.entry, '\"answered_at\":\"', 2), '\"', 1)::timestamptz = r.recorded_at"
)
# Per aligned block: how many records, how many are purged (or NULL there) or disagree with their entry, and
# the leaf hashes sha256(0x00 || entry) of RFC 6962 computed by the database, in order, as one value.
_BLOCKS_IN_RANGE = (
    "SELECT b.first, agg.* FROM generate_series(%(start)s, %(end)s - 1, %(block)s) AS b(first) CROSS JOIN LATERAL ("
    "SELECT count(*), count(*) FILTER (WHERE r.purged IS NOT FALSE OR NOT coalesce(" + _COLUMNS_MATCH + ", false)), "
    "string_agg(sha256('\\x00'::bytea || convert_to(r.entry, 'UTF8')), ''::bytea ORDER BY r.leaf_index) "
    "FROM network_exchange_records r "
    "WHERE r.leaf_index >= b.first AND r.leaf_index < least(b.first + %(block)s, %(end)s)) AS agg"
)
_AGENCY_KEY = {"requester": '"requester":', "provider": '"provider":'}


# An unsequenced record that repeats one already in the log (same exchange, same side).
_DUPLICATE_PENDING = text(
    "SELECT r.id FROM network_exchange_records r WHERE r.leaf_index IS NULL AND EXISTS ("
    "SELECT 1 FROM network_exchange_records o WHERE o.exchange_id = r.exchange_id AND o.side = r.side "
    "AND o.id <> r.id) ORDER BY r.id LIMIT 1"
)


class _Mismatch(Exception):
    """The first record that does not match the log."""

    def __init__(self, problem: str, *, record_id: int | None = None, leaf_index: int | None = None) -> None:
        super().__init__(problem)
        self.problem, self.record_id, self.leaf_index = problem, record_id, leaf_index


@dataclass(frozen=True)
class _Chunk:
    """What one aligned range of leaves gave: its frontier, partial frontiers at signed sizes, or a problem."""

    start: int
    count: int
    frontier: list[tuple[merkle.NodeKey, bytes]]
    at_sizes: dict[int, list[tuple[merkle.NodeKey, bytes]]]
    problem: str = ""
    record_id: int | None = None
    leaf_index: int | None = None


Purges = list[tuple[int, int]]  # the leaf ranges signed purge statements cover


def _verify_chunk(url: str, start: int, end: int, sizes: list[int], purges: Purges) -> _Chunk:
    """A worker process's share: its own read-only connection to the log (on SQLite a writer's connection
    would queue behind the caller's transaction for ever)."""
    from openmyna.core.db import make_engine, make_read_engine

    writer = make_engine(url)
    engine = make_read_engine(writer)
    try:
        with engine.connect() as connection:
            return _verify_range(connection, start, end, sizes, purges)
    finally:
        engine.dispose()
        writer.dispose()


def _same_instant(stored: object, text: str) -> bool:
    """``recorded_at`` as stored (PostgreSQL: aware; SQLite: the wall clock as text) against the entry's time."""
    stamp = dt.datetime.fromisoformat(text)
    if isinstance(stored, str):
        stored = dt.datetime.fromisoformat(stored)
    if not isinstance(stored, dt.datetime):
        return False
    return stored == (stamp if stored.tzinfo else stamp.replace(tzinfo=None))


def _column_problem(entry: str, citizen: object, exchange_id: object, side: object, agency: object, at: object) -> str:
    """The first stored column that disagrees with the hashed entry (the same test as ``_COLUMNS_MATCH``)."""
    for name, key, value in (
        ("citizen", '"citizen":', citizen),
        ("exchange_id", '"exchange":', exchange_id),
        ("side", '"side":', side),
        ("agency", _AGENCY_KEY.get(side, ""), agency),  # type: ignore[call-overload]
    ):
        if not key or not isinstance(value, str) or key + encode_json_string(value) not in entry:
            return name
    marker = entry.find('"answered_at":"')
    text = entry[marker + 15 : entry.find('"', marker + 15)] if marker >= 0 else ""
    try:
        return "" if _same_instant(at, text) else "recorded_at"
    except ValueError:
        return "recorded_at"


def _leaves_by_row(connection: Connection, start: int, end: int, purges: Purges) -> Iterator[list[bytes]]:
    """The stored leaves of ``[start, end)``, each entry rehashed here and compared with its stored leaf,
    every other column with the entry; raises at the first mismatch."""
    raw = connection.connection.driver_connection
    postgres = connection.dialect.name == "postgresql"
    cursor = raw.cursor(name="openmyna_verify") if postgres else raw.cursor()  # type: ignore[union-attr]
    if postgres:
        cursor.itersize = 20_000
    cursor.execute(_RECORDS_IN_RANGE.format(p="%s" if postgres else "?"), (start, end))
    expected = start
    leaf_hash = merkle.leaf_hash
    try:
        while rows := cursor.fetchmany(20_000):
            leaves = []
            for record_id, leaf_index, entry, purged, stored, *columns in rows:
                if leaf_index != expected:
                    raise _Mismatch(f"record at leaf {expected} is missing (deleted?)", leaf_index=expected)
                digest = bytes(stored) if stored is not None else b""
                if purged not in (True, False) or entry is None:
                    problem = "has a NULL where the log needs a value"
                elif purged:
                    covered = any(first <= leaf_index <= last for first, last in purges)
                    problem = "" if entry == "" and covered else "is marked purged but no signed purge removed it"
                elif leaf_hash(entry.encode()) != digest:
                    problem = "does not match the log"
                elif column := _column_problem(entry, *columns):
                    problem = f"has a {column} that is not the one in its hashed entry"
                else:
                    problem = ""
                if problem:
                    raise _Mismatch(
                        f"record {record_id} at leaf {leaf_index} {problem}", record_id=record_id, leaf_index=leaf_index
                    )
                leaves.append(digest)
                expected += 1
            yield leaves
    finally:
        cursor.close()
    if expected < end:
        raise _Mismatch(f"record at leaf {expected} is missing (deleted?)", leaf_index=expected)


def _leaves_by_block(connection: Connection, start: int, end: int, purges: Purges) -> Iterator[list[bytes]]:
    """PostgreSQL: the leaves recomputed by the database, a block of 4,096 at a time, as one value each.

    Only 32 bytes a record cross the wire; the same statement checks every column of every record against
    its entry. A block that is short, holds a purged or disagreeing record or a NULL is read again row by
    row, which names its first bad record. The leaves are then compared with the stored tree by the node
    check (:func:`tree_check.compare`), from the leaves up.
    """
    block = BLOCK
    try:
        with connection.begin_nested():  # an entry whose time does not parse fails the statement: go row by row
            blocks = connection.exec_driver_sql(_BLOCKS_IN_RANGE, {"start": start, "end": end, "block": block}).all()
    except DataError:
        yield from _leaves_by_row(connection, start, end, purges)
        return
    for first, count, unusual, joined in blocks:
        last = min(end, first + block) - 1
        if count != last - first + 1 or unusual or joined is None or len(joined) != 32 * count:
            yield from _leaves_by_row(connection, first, last + 1, purges)
            continue
        blob = bytes(joined)
        yield [blob[i : i + 32] for i in range(0, len(blob), 32)]


def _name_the_record(connection: Connection, leaf: int, end: int, purges: Purges) -> None:
    """PostgreSQL: a stored node that differs may stand for an edited record: read its block row by row
    (raises :class:`_Mismatch` naming the record when one disagrees with its stored leaf)."""
    first = leaf - leaf % BLOCK
    for _leaves in _leaves_by_row(connection, first, min(end, first + BLOCK), purges):
        pass


def _verify_range(connection: Connection, start: int, end: int, sizes: list[int], purges: Purges) -> _Chunk:
    """Recompute leaves ``[start, end)`` from their entries, check them against the stored leaf hashes
    and fold them into the frontier, keeping the partial frontiers at signed tree sizes."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:  # we parallelise ourselves; JIT compiling each chunk's plan costs more than it saves
        connection.exec_driver_sql("SET LOCAL jit = off")
        connection.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    every: list[bytes] = []
    try:
        for leaves in (_leaves_by_block if postgres else _leaves_by_row)(connection, start, end, purges):
            every.extend(leaves)
        run = tree_check.levels(every, top=CHUNK_LEVEL)
        try:  # SQLite's row pass compared every stored leaf already; on PostgreSQL start from the leaves
            tree_check.compare(connection, run, base=0, index=start, from_level=0 if postgres else 1)
        except tree_check.NodeMismatch as bad:
            if postgres and bad.leaf is not None:
                _name_the_record(connection, bad.leaf, end, purges)
            return _Chunk(start, 0, [], {}, bad.problem, leaf_index=bad.leaf)
    except _Mismatch as bad:
        return _Chunk(start, 0, [], {}, bad.problem, record_id=bad.record_id, leaf_index=bad.leaf_index)
    size = start + len(every)
    at_sizes = {s: tree_check.frontier(run, start, s) for s in sizes if start < s <= size}
    return _Chunk(start, size - start, tree_check.frontier(run, start, size), at_sizes)


def verify(
    session: Session, *, keys: KeyRing, progress: Callable[[int], None] = lambda _n: None, workers: int | None = None
) -> VerifyReport:
    """Recompute the tree from the stored entries; compare with the stored leaves and every signed head.

    Aligned chunks of 2^18 leaves are checked in parallel processes (a chunk never needs its left
    neighbour), then their frontiers are joined in order to check each signed root; the person map is
    checked in the same processes (:mod:`openmyna.network.person_map`).
    """
    with ExitStack() as cleanup:  # the worker processes, if a large log needs them, end with the check
        return _verify(session, keys=keys, progress=progress, workers=workers, cleanup=cleanup)


def _verify(
    session: Session, *, keys: KeyRing, progress: Callable[[int], None], workers: int | None, cleanup: ExitStack
) -> VerifyReport:
    """:func:`verify`, with ``cleanup`` ending the worker processes when the check is over."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    public = keys.log_signing_key.public_key()
    heads = list(session.scalars(select(TreeHead).order_by(TreeHead.tree_size)))
    mapped = False
    for head in heads:
        if mapped and head.map_root is None:
            return VerifyReport(False, 0, len(heads), f"the tree head of size {head.tree_size} lost its person map")
        mapped = head.map_root is not None
        if problem := _head_problem(public, head):
            return VerifyReport(False, 0, len(heads), f"the tree head of size {head.tree_size} {problem}")
    purges: Purges = []
    for statement in session.scalars(select(PurgeStatement).order_by(PurgeStatement.id)):
        try:
            public.verify(statement.signature, statement.statement.encode())
            body = json.loads(statement.statement)
            purges.append((int(body["first_leaf"]), int(body["last_leaf"])))
        except (InvalidSignature, ValueError, KeyError, TypeError, AttributeError):
            return VerifyReport(False, 0, len(heads), f"purge statement {statement.id} has a bad signature")
    targets = {h.tree_size: h.root_hash for h in heads}
    # One statement, so one snapshot: a sequencer committing meanwhile cannot make the two disagree.
    signed, last = session.execute(
        select(select(func.max(TreeHead.tree_size)).scalar_subquery(), func.max(ExchangeRecord.leaf_index))
    ).one()
    total = 0 if last is None else last + 1
    if total > (signed or 0):
        return VerifyReport(
            False,
            0,
            len(heads),
            f"a record at leaf {total - 1} lies beyond the latest signed head (size {signed or 0})",
            leaf_index=total - 1,
        )
    if duplicate := session.execute(_DUPLICATE_PENDING).first():
        return VerifyReport(
            False, 0, len(heads), f"record {duplicate[0]} repeats a record already in the log", record_id=duplicate[0]
        )
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    step = 1 << CHUNK_LEVEL
    ranges = [(start, min(start + step, total)) for start in range(0, total, step)]
    sizes = sorted(targets)
    started = None
    if len(ranges) <= 1:  # small logs: in this session, so uncommitted work is seen too
        chunks = [_verify_range(session.connection(), start, end, sizes, purges) for start, end in ranges]
    else:
        import multiprocessing

        processes = workers or os.cpu_count() or 1
        pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"))
        cleanup.callback(pool.shutdown, wait=True, cancel_futures=True)
        # The person map's first round first (the longest tasks), then the chunks: the same processes run both.
        started = person_map.start(pool, heads[-1], url=url, processes=processes) if heads else None
        futures = [pool.submit(_verify_chunk, url, start, end, sizes, purges) for start, end in ranges]
        chunks = []
        for future in futures:
            chunks.append(future.result())
            progress(chunks[-1].count)
            if chunks[-1].problem:  # the first bad chunk is reported whatever the map holds
                break
    frontier: list[tuple[merkle.NodeKey, bytes]] = []
    size = 0
    for chunk in chunks:
        if chunk.problem:
            return VerifyReport(False, size, len(heads), chunk.problem, chunk.record_id, chunk.leaf_index)
        for at, partial in chunk.at_sizes.items():
            if merkle.root_from_frontier(merkle.join_frontiers(frontier, partial)) != targets[at]:
                return VerifyReport(
                    False,
                    at,
                    len(heads),
                    f"the entries up to leaf {at - 1} do not give the signed root of size {at}",
                    leaf_index=at - 1,
                )
        frontier = merkle.join_frontiers(frontier, chunk.frontier)
        size += chunk.count
    if len(ranges) <= 1 and size:
        progress(size)
    if heads and heads[-1].tree_size > size:
        return VerifyReport(
            False,
            size,
            len(heads),
            f"record at leaf {size} is missing (deleted?): the log holds {size} records "
            f"but a head was signed for {heads[-1].tree_size}",
            leaf_index=size,
        )
    # the stored nodes above the chunks (each full chunk's frontier is its one top node), then the count
    tops = [chunk.frontier[0][1] for chunk in chunks if chunk.count == step]
    try:
        run = tree_check.levels(tops, top=63)
        tree_check.compare(session.connection(), run, base=CHUNK_LEVEL, index=0, from_level=CHUNK_LEVEL + 1)
    except tree_check.NodeMismatch as bad:
        return VerifyReport(False, size, len(heads), bad.problem, leaf_index=bad.leaf)
    if problem := tree_check.check_count(session.connection(), size):
        return VerifyReport(False, size, len(heads), problem)
    if heads and (problem := person_map.check(session, heads[-1], url=url, workers=workers, started=started)):
        return VerifyReport(False, size, len(heads), problem)
    return VerifyReport(True, size, len(heads))


def _head_problem(public: Ed25519PublicKey, head: TreeHead) -> str:
    """Both signatures of a head (the map's, if the head has one): empty if they verify."""
    if None in (head.tree_size, head.timestamp_ms, head.root_hash, head.signature):
        return "has a NULL where a signed value belongs"
    try:
        public.verify(head.signature, tree_head_message(head.tree_size, head.timestamp_ms, head.root_hash))
    except InvalidSignature:
        return "has a bad signature"
    if head.map_root is None and head.map_signature is None:
        return ""
    try:
        message = map_head_message(head.tree_size, head.timestamp_ms, head.root_hash, head.map_root or b"")
        public.verify(head.map_signature or b"", message)
    except InvalidSignature:
        return "has a bad signature on its person map root"
    return ""
