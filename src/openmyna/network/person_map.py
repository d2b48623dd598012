"""``openmyna network verify``'s check of the person map: every person's chain recomputed from the records,
compared with the stored chain heads, the stored map nodes and the map root signed with the latest head.

Runs after the tree check (:mod:`openmyna.network.verify`), which has already matched each record's
``citizen`` column with its hashed entry; a purged record keeps only its column and its leaf hash, and is
chained by those.

A large log is checked in two rounds of parts, one process each. First the *persons*, split by a cheap
hash of the pseudonym: a part folds its persons' chains from their records and compares them with the
stored heads (on PostgreSQL one row a person, the records packed into one value, joined with the stored
chain). Then the *map*: part ``p`` of ``2^bits`` rebuilds the subtree of the persons whose map key starts
with the bits of ``p`` from the first round's leaves and compares every stored node under it; the caller
joins the subtrees' roots into the map root and checks the few nodes above them. A subtree with fewer than
two persons (its leaf would sit above the part) sends the caller back to the whole map in one go.
"""

from __future__ import annotations

import hashlib
import zlib
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from openmyna.network import smt
from openmyna.network.models import MapNode, PersonChain, TreeHead

Chains = dict[str, tuple[int, bytes]]
PARALLEL_FROM = 1 << 18  # smaller logs are checked in the caller's session (which sees its own writes)
# A first-round part: the persons whose pseudonym's hashtext falls in it (all of them for one part).
_PG_PERSONS = "abs(hashtext(coalesce({column}, '')) %% %(parts)s) = %(part)s"
# PostgreSQL hashes the entries itself (the stored leaf is read only for a purged record) and sends each
# person's records as one value, u64(leaf_index) ‖ leaf_hash (40 bytes a record) in leaf order, beside the
# stored chain, with the person's first record that cannot be chained (no leaf hash, or not 32 bytes of one).
_POSTGRES_RECORDS = (
    "SELECT g.citizen, g.records, g.bad, c.citizen, c.count, c.head FROM ("
    "SELECT citizen, string_agg(int8send(leaf_index) || coalesce(digest, ''), ''::bytea ORDER BY leaf_index) "
    "AS records, min(leaf_index) FILTER (WHERE digest IS NULL OR length(digest) <> 32) AS bad FROM ("
    'SELECT r.citizen COLLATE "C" AS citizen, r.leaf_index, CASE WHEN r.purged THEN '
    "(SELECT n.digest FROM network_tree_nodes n WHERE n.key = r.leaf_index * 64) "
    "ELSE sha256('\\x00'::bytea || convert_to(r.entry, 'UTF8')) END AS digest "
    "FROM network_exchange_records r WHERE r.leaf_index < %(size)s AND "
    + _PG_PERSONS.format(column="r.citizen")
    # OFFSET 0: each leaf hashed once, before the sort; "C": the sort compares bytes, not the locale's order
    + " OFFSET 0) AS records GROUP BY citizen) AS g "
    "FULL JOIN (SELECT citizen, count, head FROM network_person_chains WHERE "
    + _PG_PERSONS.format(column="citizen")
    + ') AS c ON c.citizen = g.citizen COLLATE "C"'
)
_SQLITE_RECORDS = (
    "SELECT r.citizen, r.leaf_index, n.digest FROM network_exchange_records r "
    "LEFT JOIN network_tree_nodes n ON n.key = r.leaf_index * 64 WHERE r.leaf_index < ? ORDER BY r.leaf_index"
)
# The stored nodes at a map part's depth or below, under its prefix (a path is the depth, two bytes, then
# the prefix: the part is a range of its third byte); and every other node, which the caller checks.
_IN_PART = "length(path) >= 3 AND substr(path, 1, 2) >= {depth}"
_NODES_IN_PART = (
    "SELECT path, digest, leaf_key, leaf_value FROM network_map_nodes WHERE "
    + _IN_PART
    + " AND substr(path, 3, 1) >= {low} AND substr(path, 3, 1) <= {last}"
)
_NODES_ABOVE = "SELECT path, digest, leaf_key, leaf_value FROM network_map_nodes WHERE NOT (" + _IN_PART + ")"
_LEAF = 104  # a map leaf passed between the rounds: its key (32 bytes), digest (32) and value (count, chain head)


class _BadRecord(Exception):
    pass


@dataclass(frozen=True)
class _Persons:
    """A first-round part: where its chains first differ from the stored ones, else its map leaves by map part."""

    bad_record: str = ""
    missing_chain: str | None = None  # the first person with a chain on one side only
    wrong_chain: str | None = None  # the first person whose stored chain differs
    leaves: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class _Part:
    """A map part: its subtree's root, or where the stored nodes under it first differ."""

    root: bytes = smt.ZERO
    persons: int = 0
    wrong_node: bytes | None = None
    node_count_differs: bool = False


def _mine(citizen: str, parts: int, part: int) -> bool:
    return parts == 1 or zlib.crc32(citizen.encode()) % parts == part


def _fold_rows(connection: Connection, size: int, part: int, parts: int) -> tuple[Chains, list[str], list[str]]:
    """SQLite: the records row by row in leaf order, then the stored chains."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(_SQLITE_RECORDS, (size,))
    chains: Chains = {}
    mine: dict[str, bool] = {}
    sha256 = hashlib.sha256
    zero = smt.ZERO
    try:
        while rows := cursor.fetchmany(20_000):
            for citizen, leaf, digest in rows:
                if citizen is None or digest is None:
                    raise _BadRecord(f"the record at leaf {leaf} has no person or no leaf hash to chain")
                if not citizen:
                    continue
                inside = mine.get(citizen)
                if inside is None:
                    inside = mine[citizen] = _mine(citizen, parts, part)
                if inside:
                    count, head = chains.get(citizen, (0, zero))
                    step = b"\x02" + head + leaf.to_bytes(8, "big") + bytes(digest)
                    chains[citizen] = (count + 1, sha256(step).digest())
    finally:
        cursor.close()
    stored: Chains = {}
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:  # a plain read: no transaction, so no wait for SQLite's writer lock beside the other parts
        for c, n, h in cursor.execute("SELECT citizen, count, head FROM network_person_chains"):
            if c is None or _mine(c, parts, part):
                stored[c] = (n, None if h is None else bytes(h))  # type: ignore[assignment]
    finally:
        cursor.close()
    wrong = [c for c, chain in chains.items() if stored.get(c, chain) != chain]
    return chains, list(chains.keys() ^ stored.keys()), wrong


def _fold_grouped(connection: Connection, size: int, part: int, parts: int) -> tuple[Chains, list[str], list[str]]:
    """PostgreSQL: a person's records arrive as one value beside their stored chain (no Python object per
    record). The chains, the persons with a chain on one side only, those whose stored chain differs."""
    chains: Chains = {}
    sha256 = hashlib.sha256
    unchained: list[int] = []
    missing: list[str] = []
    wrong: list[str] = []
    raw = connection.connection.driver_connection
    with raw.cursor(name="openmyna_verify_map", binary=True) as cursor:  # type: ignore[union-attr]
        cursor.itersize = 5_000
        cursor.execute(_POSTGRES_RECORDS, {"size": size, "parts": parts, "part": part})
        for citizen, records, bad, stored, count, stored_head in cursor:
            if records is None:  # a stored chain without records
                missing.append(stored)
                continue
            if citizen is None:
                bad = int.from_bytes(records[:8], "big") if bad is None else bad
            if bad is not None:
                unchained.append(bad)
                continue
            if not citizen:  # records refused before anyone was named join no chain
                if stored is not None:
                    missing.append(stored)
                continue
            head = smt.ZERO
            for start in range(0, len(records), 40):
                head = sha256(b"\x02" + head + records[start : start + 40]).digest()
            chains[citizen] = (len(records) // 40, head)
            if stored is None:
                missing.append(citizen)
            elif count != len(records) // 40 or stored_head != head:
                wrong.append(citizen)
    if unchained:
        raise _BadRecord(f"the record at leaf {min(unchained)} has no person or no leaf hash to chain")
    return chains, missing, wrong


def _persons(connection: Connection, size: int, part: int, parts: int, bits: int) -> _Persons:
    """First round: fold and compare the part's chains; its map leaves, packed, one value per map part."""
    postgres = connection.dialect.name == "postgresql"
    if postgres and parts > 1:  # the parts are our parallelism; no JIT for one scan
        connection.exec_driver_sql("SET LOCAL jit = off")
        connection.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    try:
        chains, missing, wrong = (_fold_grouped if postgres else _fold_rows)(connection, size, part, parts)
    except _BadRecord as bad:
        return _Persons(bad_record=str(bad))
    if missing:
        return _Persons(missing_chain=min(missing, key=lambda c: c or ""))
    if wrong:
        return _Persons(wrong_chain=min(wrong))
    leaves: list[list[bytes]] = [[] for _ in range(1 << bits)]
    sha256 = hashlib.sha256
    for citizen, (count, head) in chains.items():
        key = sha256(citizen.encode()).digest()
        value = count.to_bytes(8, "big") + head  # the leaf's stored value (completeness.leaf_value)
        leaves[key[0] >> (8 - bits) if bits else 0].append(key + sha256(b"\x00" + key + value).digest() + value)
    return _Persons(leaves=[b"".join(group) for group in leaves])


def _nodes(
    connection: Connection, query: str, **params: object
) -> list[tuple[bytes, bytes | None, bytes | None, bytes | None]]:
    """Rows of stored map nodes (PostgreSQL: binary, so the digests arrive as bytes without decoding)."""
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor(binary=True) as cursor:  # type: ignore[union-attr]
            cursor.execute(query.format(**{k: f"%({k})s" for k in params}), params)
            return cursor.fetchall()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:  # a plain read, as above
        rows = cursor.execute(query.format(**{k: f":{k}" for k in params}), params).fetchall()
    finally:
        cursor.close()
    return [tuple(None if v is None else bytes(v) for v in row) for row in rows]  # type: ignore[misc]


def _map_part(connection: Connection, leaves: bytes, part: int, bits: int) -> _Part:
    """Second round: rebuild the part's subtree from its leaves; compare every stored node under it."""
    packed = sorted(leaves[i : i + _LEAF] for i in range(0, len(leaves), _LEAF))
    if bits and len(packed) < 2:  # the part's leaf would sit above the part: the caller checks the whole map
        return _Part(persons=len(packed))
    keys = [int.from_bytes(leaf[:32], "big") for leaf in packed]
    nodes: dict[bytes, smt.Node] = {}
    root = smt.build(keys, [leaf[32:64] for leaf in packed], nodes, bits)
    if bits:
        low, last = part << (8 - bits), ((part + 1) << (8 - bits)) - 1
        depth = bits.to_bytes(2, "big")
        rows = _nodes(connection, _NODES_IN_PART, depth=depth, low=bytes([low]), last=bytes([last]))
    else:
        rows = _nodes(connection, "SELECT path, digest, leaf_key, leaf_value FROM network_map_nodes")
    wrong_node = None
    values = {key: leaf[64:] for key, leaf in zip(keys, packed, strict=True)}
    for path, digest, leaf_key, value in rows:
        key = None if leaf_key is None else int.from_bytes(leaf_key, "big")
        differs = nodes.get(path) != (digest, key) or value != (None if key is None else values.get(key))
        if differs and (wrong_node is None or path < wrong_node):
            wrong_node = path
    return _Part(root, len(packed), wrong_node=wrong_node, node_count_differs=len(rows) != len(nodes))


def _in_process(url: str, task: str, *args: object) -> object:
    from openmyna.core.db import make_engine, make_read_engine

    writer = make_engine(url)
    engine = make_read_engine(writer)  # never the writer: on SQLite a writer's connection queues behind the caller
    try:
        with engine.connect() as connection:
            return (_persons if task == "persons" else _map_part)(connection, *args)  # type: ignore[operator]
    finally:
        engine.dispose()
        writer.dispose()


def _problem(persons: list[_Persons], parts: list[_Part], head: TreeHead, root: bytes) -> str:
    """The first difference, in the order of the checks: records, chains, the signed root, nodes."""
    for group in persons:
        if group.bad_record:
            return group.bad_record
    missing = [p.missing_chain for p in persons if p.missing_chain is not None]
    wrong = [p.wrong_chain for p in persons if p.wrong_chain is not None]
    if missing or wrong:
        first = min(missing or wrong, key=lambda c: c or "")
        return f"the stored chain of {first} does not match that person's records"
    if root != head.map_root:
        return f"the person map root signed at size {head.tree_size} does not match the records"
    nodes = [p.wrong_node for p in parts if p.wrong_node is not None]
    if nodes:
        return f"the stored person map node {min(nodes).hex()} does not match the records"
    if any(p.node_count_differs for p in parts):
        return "the stored person map is missing nodes"
    return ""


def _top(connection: Connection, bits: int, parts: list[_Part]) -> tuple[bytes, _Part]:
    """Join the map parts' roots up to the map root; the stored nodes above the parts compared."""
    level = [p.root for p in parts]
    computed: dict[bytes, smt.Node] = {}
    for depth in range(bits - 1, -1, -1):
        level = [smt.node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        for index, digest in enumerate(level):
            computed[smt.path(index << (smt.BITS - depth) if depth else 0, depth)] = (digest, None)
    rows = _nodes(connection, _NODES_ABOVE, depth=bits.to_bytes(2, "big"))
    wrong = [
        p
        for p, d, k, v in rows
        if v is not None or computed.get(p) != (d, None if k is None else int.from_bytes(k, "big"))
    ]
    return level[0], _Part(wrong_node=min(wrong) if wrong else None, node_count_differs=len(rows) != len(computed))


@dataclass
class Started:
    """The first round of a large map's check, running in the caller's pool."""

    pool: Executor
    url: str
    bits: int
    persons: list[Future[object]]


def start(pool: Executor, head: TreeHead, *, url: str, processes: int) -> Started | None:
    """Begin a large map's check in ``pool`` (beside the tree check); None for a small log or no map."""
    if head.map_root is None or head.tree_size < PARALLEL_FROM:
        return None
    bits = max(1, (processes - 1).bit_length())
    # SQLite cannot leave other parts' records out, so one task reads them all, once, beside the tree chunks.
    groups = 1 if url.startswith("sqlite") else processes
    persons = [pool.submit(_in_process, url, "persons", head.tree_size, part, groups, bits) for part in range(groups)]
    return Started(pool, url, bits, persons)


def check(
    session: Session, head: TreeHead, *, url: str, workers: int | None = None, started: Started | None = None
) -> str:
    """Empty if the map signed with ``head`` is exactly the records' chains; else the first difference.

    ``started``: what :func:`start` began in the caller's pool (which must still be open).
    """
    if head.map_root is None:  # signed before the map existed; then there must be no map yet either
        kept = session.scalar(select(MapNode.path).limit(1)) or session.scalar(select(PersonChain.citizen).limit(1))
        return "" if kept is None else f"the tree head of size {head.tree_size} does not sign the person map kept"
    if started is None and head.tree_size >= PARALLEL_FROM:
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        processes = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            return check(session, head, url=url, started=start(pool, head, url=url, processes=processes))
    if started is not None:
        persons: list[_Persons] = [future.result() for future in started.persons]  # type: ignore[misc]
        if problem := _problem(persons, [], head, head.map_root):
            return problem
        futures = [
            started.pool.submit(
                _in_process, started.url, "map", b"".join(p.leaves[part] for p in persons), part, started.bits
            )
            for part in range(1 << started.bits)
        ]
        parts: list[_Part] = [future.result() for future in futures]  # type: ignore[misc]
        if all(p.persons >= 2 for p in parts):
            root, top = _top(session.connection(), started.bits, parts)
            return _problem([], [*parts, top], head, root)
    whole = _persons(session.connection(), head.tree_size, 0, 1, 0)
    if problem := _problem([whole], [], head, head.map_root):
        return problem
    part = _map_part(session.connection(), whole.leaves[0], 0, 0)
    return _problem([], [part], head, part.root)
