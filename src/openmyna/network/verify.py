"""``openmyna network verify``: recompute the exchange log's tree from storage and check every signed head.

Split from :mod:`openmyna.network.log` (which appends, sequences, proves and purges): verifying reads the
whole log, in parallel chunks, and names the first record that is modified, missing or out of place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import merkle
from openmyna.network.log import tree_head_message
from openmyna.network.models import ExchangeRecord, TreeHead


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
    "SELECT r.id, r.leaf_index, r.entry, r.purged, n.digest FROM network_exchange_records r "
    "LEFT JOIN network_tree_nodes n ON n.key = r.leaf_index * 64 "
    "WHERE r.leaf_index >= {p} AND r.leaf_index < {p} ORDER BY r.leaf_index"
)
# Per aligned block: how many records, whether any is purged, and the leaf hashes sha256(0x00 || entry)
# of RFC 6962 computed by the database, in order, as one value.
_BLOCKS_IN_RANGE = (
    "SELECT b.first, agg.* FROM generate_series(%(start)s, %(end)s - 1, %(block)s) AS b(first) CROSS JOIN LATERAL ("
    "SELECT count(*), bool_or(r.purged), "
    "string_agg(sha256('\\x00'::bytea || convert_to(r.entry, 'UTF8')), ''::bytea ORDER BY r.leaf_index) "
    "FROM network_exchange_records r "
    "WHERE r.leaf_index >= b.first AND r.leaf_index < least(b.first + %(block)s, %(end)s)) AS agg"
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


def _verify_chunk(url: str, start: int, end: int, sizes: list[int]) -> _Chunk:
    """A worker process's share: its own connection to the log."""
    from openmyna.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return _verify_range(connection, start, end, sizes)
    finally:
        engine.dispose()


def _leaves_by_row(connection: Connection, start: int, end: int) -> Iterator[tuple[list[bytes], bytes | None]]:
    """The stored leaves of ``[start, end)``, each entry rehashed here and compared with its stored leaf;
    raises at the first mismatch."""
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
            for record_id, leaf_index, entry, purged, stored in rows:
                if leaf_index != expected:
                    raise _Mismatch(f"record at leaf {expected} is missing (deleted?)", leaf_index=expected)
                digest = bytes(stored) if stored is not None else b""
                if not purged and leaf_hash(entry.encode()) != digest:
                    raise _Mismatch(
                        f"record {record_id} at leaf {leaf_index} does not match the log",
                        record_id=record_id,
                        leaf_index=leaf_index,
                    )
                leaves.append(digest)
                expected += 1
            yield leaves, None
    finally:
        cursor.close()
    if expected < end:
        raise _Mismatch(f"record at leaf {expected} is missing (deleted?)", leaf_index=expected)


def _leaves_by_block(connection: Connection, start: int, end: int) -> Iterator[tuple[list[bytes], bytes | None]]:
    """PostgreSQL: the leaves recomputed by the database, a block of 4,096 at a time, with the block's root.

    Only 32 bytes a record cross the wire. A full block is checked against its stored perfect subtree
    (one comparison instead of 4,096); a block that is short, holds purged records or does not match is
    read again row by row, which names its first bad record.
    """
    block = BLOCK
    level = block.bit_length() - 1
    keys = [merkle.node_key(level, first >> level) for first in range(start, end, block)]
    stored = {
        key: bytes(digest)
        for key, digest in connection.exec_driver_sql(
            "SELECT key, digest FROM network_tree_nodes WHERE key = ANY(%s)", (keys,)
        )
    }
    for first, count, any_purged, joined in connection.exec_driver_sql(
        _BLOCKS_IN_RANGE, {"start": start, "end": end, "block": block}
    ):
        last = min(end, first + block) - 1
        if count != block or any_purged:
            yield from _leaves_by_row(connection, first, last + 1)
            continue
        blob = bytes(joined)
        leaves = [blob[i : i + 32] for i in range(0, len(blob), 32)]
        root = merkle.perfect_root(leaves)
        if root != stored.get(merkle.node_key(level, first >> level)):
            yield from _leaves_by_row(connection, first, last + 1)
            raise _Mismatch(
                f"the stored tree over leaves {first}–{last} does not match their records", leaf_index=first
            )
        yield leaves, root


def _verify_range(connection: Connection, start: int, end: int, sizes: list[int]) -> _Chunk:
    """Recompute leaves ``[start, end)`` from their entries, check them against the stored leaf hashes
    and fold them into the frontier, keeping the partial frontiers at signed tree sizes."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:  # we parallelise ourselves; JIT compiling each chunk's plan costs more than it saves
        connection.exec_driver_sql("SET LOCAL jit = off")
        connection.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    frontier: list[tuple[merkle.NodeKey, bytes]] = []
    at_sizes: dict[int, list[tuple[merkle.NodeKey, bytes]]] = {}
    size = start
    pending = sorted(s for s in sizes if start < s <= end)
    try:
        for leaves, root in (_leaves_by_block if postgres else _leaves_by_row)(connection, start, end):
            if root is not None and not any(size < s < size + len(leaves) for s in pending):
                level = len(leaves).bit_length() - 1  # an aligned perfect subtree: push it whole
                frontier = merkle.join_frontiers(frontier, [((level, size >> level), root)])
                size += len(leaves)
                if size in pending:
                    at_sizes[size] = list(frontier)
                pending = [s for s in pending if s > size]
                continue
            base = size
            for cut in [*(s for s in pending if s <= base + len(leaves)), base + len(leaves)]:
                frontier, size = merkle.extend_frontier(frontier, size, leaves[size - base : cut - base])
                if size in pending:
                    at_sizes[size] = list(frontier)
            pending = [s for s in pending if s > size]
    except _Mismatch as bad:
        return _Chunk(start, 0, [], {}, bad.problem, record_id=bad.record_id, leaf_index=bad.leaf_index)
    return _Chunk(start, size - start, frontier, at_sizes)


def verify(
    session: Session, *, keys: KeyRing, progress: Callable[[int], None] = lambda _n: None, workers: int | None = None
) -> VerifyReport:
    """Recompute the tree from the stored entries; compare with the stored leaves and every signed head.

    Aligned chunks of 2^18 leaves are checked in parallel processes (a chunk never needs its left
    neighbour), then their frontiers are joined in order to check each signed root.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor

    public = keys.log_signing_key.public_key()
    heads = list(session.scalars(select(TreeHead).order_by(TreeHead.tree_size)))
    for head in heads:
        try:
            public.verify(head.signature, tree_head_message(head.tree_size, head.timestamp_ms, head.root_hash))
        except InvalidSignature:
            return VerifyReport(False, 0, len(heads), f"the tree head of size {head.tree_size} has a bad signature")
    targets = {h.tree_size: h.root_hash for h in heads}
    total = session.scalar(select(func.max(ExchangeRecord.leaf_index)))
    total = 0 if total is None else total + 1
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    step = 1 << CHUNK_LEVEL
    ranges = [(start, min(start + step, total)) for start in range(0, total, step)]
    sizes = sorted(targets)
    if len(ranges) <= 1:  # small logs: in this session, so uncommitted work is seen too
        chunks = [_verify_range(session.connection(), start, end, sizes) for start, end in ranges]
    else:
        import multiprocessing

        with ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            futures = [pool.submit(_verify_chunk, url, start, end, sizes) for start, end in ranges]
            chunks = []
            for future in futures:
                chunks.append(future.result())
                progress(chunks[-1].count)
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
            f"the log holds {size} records but a head was signed for {heads[-1].tree_size}",
            leaf_index=size,
        )
    return VerifyReport(True, size, len(heads))
