"""``openmyna network verify``'s check of the person map: every person's chain recomputed from the records,
compared with the stored chain heads, the stored map nodes and the map root signed with the latest head.

Runs after the tree check (:mod:`openmyna.network.verify`), which has already matched each record's
``citizen`` column with its hashed entry; a purged record keeps only its column and its leaf hash, and is
chained by those.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from openmyna.network import smt
from openmyna.network.models import MapNode, PersonChain, TreeHead

Chains = dict[str, tuple[int, bytes]]
PARALLEL_FROM = 1 << 18  # smaller logs are folded in the caller's session (which sees its own writes)
# PostgreSQL hashes the entries itself; the stored leaf is read only for a purged record.
_POSTGRES_RECORDS = (
    "SELECT r.citizen, r.leaf_index, CASE WHEN r.purged THEN "
    "(SELECT n.digest FROM network_tree_nodes n WHERE n.key = r.leaf_index * 64) "
    "ELSE sha256('\\x00'::bytea || convert_to(r.entry, 'UTF8')) END "
    "FROM network_exchange_records r WHERE r.leaf_index < %(size)s "
    "AND abs(hashtext(coalesce(r.citizen, ''))) %% %(parts)s = %(part)s ORDER BY r.leaf_index"
)
_SQLITE_RECORDS = (
    "SELECT r.citizen, r.leaf_index, n.digest FROM network_exchange_records r "
    "LEFT JOIN network_tree_nodes n ON n.key = r.leaf_index * 64 WHERE r.leaf_index < ? ORDER BY r.leaf_index"
)


class _BadRecord(Exception):
    pass


def _fold(connection: Connection, size: int, part: int, parts: int) -> Chains:
    """The chains of the persons in partition ``part`` of ``parts``, folded in leaf order."""
    raw = connection.connection.driver_connection
    postgres = connection.dialect.name == "postgresql"
    cursor = raw.cursor(name="openmyna_verify_map") if postgres else raw.cursor()  # type: ignore[union-attr]
    if postgres:
        cursor.itersize = 20_000
        cursor.execute(_POSTGRES_RECORDS, {"size": size, "parts": parts, "part": part})
    else:
        cursor.execute(_SQLITE_RECORDS, (size,))
    chains: Chains = {}
    sha256 = hashlib.sha256
    try:
        while rows := cursor.fetchmany(20_000):
            for citizen, leaf, digest in rows:
                if citizen is None or digest is None:
                    raise _BadRecord(f"the record at leaf {leaf} has no person or no leaf hash to chain")
                if citizen:
                    count, head = chains.get(citizen, (0, smt.ZERO))
                    step = b"\x02" + head + leaf.to_bytes(8, "big") + bytes(digest)
                    chains[citizen] = (count + 1, sha256(step).digest())
    finally:
        cursor.close()
    return chains


def _fold_in_process(url: str, size: int, part: int, parts: int) -> Chains | str:
    from openmyna.core.db import make_engine, make_read_engine

    writer = make_engine(url)
    engine = make_read_engine(writer)
    try:
        with engine.connect() as connection:
            return _fold(connection, size, part, parts)
    except _BadRecord as bad:
        return str(bad)
    finally:
        engine.dispose()
        writer.dispose()


def _recompute(session: Session, size: int, url: str, workers: int | None) -> Chains:
    postgres = session.get_bind().dialect.name == "postgresql"
    if size < PARALLEL_FROM or not postgres:
        return _fold(session.connection(), size, 0, 1)
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    parts = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=parts, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_fold_in_process, [url] * parts, [size] * parts, range(parts), [parts] * parts))
    chains: Chains = {}
    for result in results:
        if isinstance(result, str):
            raise _BadRecord(result)
        chains.update(result)
    return chains


def check(session: Session, head: TreeHead, *, url: str, workers: int | None = None) -> str:
    """Empty if the map signed with ``head`` is exactly the records' chains; else the first difference."""
    if head.map_root is None:  # signed before the map existed; then there must be no map yet either
        kept = session.scalar(select(MapNode.path).limit(1)) or session.scalar(select(PersonChain.citizen).limit(1))
        return "" if kept is None else f"the tree head of size {head.tree_size} does not sign the person map kept"
    try:
        chains = _recompute(session, head.tree_size, url, workers)
    except _BadRecord as bad:
        return str(bad)
    stored = {
        c: (n, None if h is None else bytes(h))
        for c, n, h in session.execute(select(PersonChain.citizen, PersonChain.count, PersonChain.head))
    }
    for citizen in sorted(chains.keys() ^ stored.keys()) or sorted(c for c in chains if chains[c] != stored[c]):
        return f"the stored chain of {citizen} does not match that person's records"
    keyed = sorted((smt.map_key(c), smt.leaf_digest(smt.map_key(c), n, h)) for c, (n, h) in chains.items())
    nodes: dict[bytes, smt.Node] = {}
    root = smt.build([k for k, _d in keyed], [d for _k, d in keyed], nodes)
    if root != head.map_root:
        return f"the person map root signed at size {head.tree_size} does not match the records"
    values = {smt.map_key(c): n.to_bytes(8, "big") + h for c, (n, h) in chains.items()}
    count = 0
    stored_nodes = select(MapNode.path, MapNode.digest, MapNode.leaf_key, MapNode.leaf_value)
    for path, digest, leaf_key, value in session.execute(stored_nodes):
        count += 1
        key = None if leaf_key is None else int.from_bytes(bytes(leaf_key), "big")
        if nodes.get(bytes(path)) != (None if digest is None else bytes(digest), key) or (
            (None if value is None else bytes(value)) != (None if key is None else values.get(key))
        ):
            return f"the stored person map node {bytes(path).hex()} does not match the records"
    if count != len(nodes):
        return "the stored person map is missing nodes"
    return ""
