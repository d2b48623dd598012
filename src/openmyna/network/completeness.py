"""The person map in storage: the sequencer folds new records into their persons' chains and the map,
tree heads sign the map root, and the history API serves each page's chain segment and map proof.

Hashing is in :mod:`openmyna.network.smt`; the client's side of the check in
:mod:`openmyna.network.person_check`.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from openmyna.network import smt
from openmyna.network.models import ExchangeRecord, MapNode, PersonChain, TreeNode

MAP_STATEMENT = b"openmyna person map v1\x00"
_CHUNK = 5000
PROOF_LEVELS = 32  # a person's walk ends about log2(persons) levels down: one round trip for the map proof


def map_head_message(tree_size: int, timestamp_ms: int, log_root: bytes, map_root: bytes) -> bytes:
    """What the hub signs beside the RFC 6962 head: the person map's root bound to that head."""
    return MAP_STATEMENT + struct.pack(">QQ", timestamp_ms, tree_size) + log_root + map_root


def citizen_of_entry(entry: str) -> str:
    """The pseudonym a record's hashed entry names (the ``citizen`` column must agree)."""
    return str(json.loads(entry).get("citizen") or "")


def _in_chunks(session: Session, column: Any, values: Iterable[Any], *columns: Any) -> list[Any]:
    wanted = list(values)
    rows: list[Any] = []
    for start in range(0, len(wanted), _CHUNK):
        rows += session.execute(select(*columns).where(column.in_(wanted[start : start + _CHUNK]))).all()
    return rows


_NODES = select(MapNode.path, MapNode.digest, MapNode.leaf_key, MapNode.leaf_value).where(
    MapNode.path.in_(bindparam("paths", expanding=True))
)


def leaf_value(count: int, chain_head: bytes) -> bytes:
    """What a map leaf stores beside its key: the rest of its preimage (see :func:`smt.leaf_digest`)."""
    return count.to_bytes(8, "big") + chain_head


def load_nodes(session: Session, values: dict[int, bytes] | None = None) -> smt.Load:
    """Read map nodes by path; the leaves' values (key → :func:`leaf_value`) are kept in ``values``."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"

    def load(paths: set[bytes]) -> dict[bytes, smt.Node]:
        wanted = list(paths)
        rows: list[Any] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            if postgres:  # one array parameter: no statement with a thousand binds
                rows += connection.exec_driver_sql(
                    "SELECT path, digest, leaf_key, leaf_value FROM network_map_nodes WHERE path = ANY(%s)", (chunk,)
                ).all()
            else:
                rows += connection.execute(_NODES, {"paths": chunk}).all()
        found: dict[bytes, smt.Node] = {}
        for p, d, k, v in rows:
            key = None if k is None else int.from_bytes(bytes(k), "big")
            found[bytes(p)] = (bytes(d), key)
            if values is not None and key is not None and v is not None:
                values[key] = bytes(v)
        return found

    return load


def _upsert(session: Session, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={c: statement.excluded[c] for c in rows[0] if c not in keys}
    )
    for start in range(0, len(rows), _CHUNK):
        session.execute(statement, rows[start : start + _CHUNK])


def map_root(session: Session) -> bytes:
    return bytes(session.scalar(select(MapNode.digest).where(MapNode.path == smt.path(0, 0))) or smt.ZERO)


def fold(session: Session, records: list[tuple[str, int, bytes]]) -> bytes:
    """Extend the chains by ``(citizen, leaf_index, leaf_hash)`` in leaf order, update the map, return its root.

    Records without a person (refused before anyone was named) join no chain.
    """
    citizens = {c for c, _leaf, _hash in records if c}
    if not citizens:
        return map_root(session)
    chains = {
        c: (n, bytes(h))
        for c, n, h in _in_chunks(
            session, PersonChain.citizen, citizens, PersonChain.citizen, PersonChain.count, PersonChain.head
        )
    }
    for citizen, leaf, leaf_hash in records:
        if citizen:
            count, head = chains.get(citizen, (0, smt.ZERO))
            chains[citizen] = (count + 1, smt.chain_step(head, leaf, leaf_hash))
    _upsert(
        session,
        PersonChain.__table__,
        ["citizen"],
        [{"citizen": c, "count": chains[c][0], "head": chains[c][1]} for c in sorted(citizens)],
    )
    leaves = {smt.map_key(c): smt.leaf_digest(smt.map_key(c), *chains[c]) for c in citizens}
    values: dict[int, bytes] = {}  # a leaf the update moves deeper keeps the value it was loaded with
    nodes = smt.fetch(load_nodes(session, values), leaves)
    values.update({smt.map_key(c): leaf_value(*chains[c]) for c in citizens})
    root, writes = smt.update(nodes, leaves)
    _upsert(
        session,
        MapNode.__table__,
        ["path"],
        [
            {
                "path": p,
                "digest": d,
                "leaf_key": None if k is None else k.to_bytes(32, "big"),
                "leaf_value": None if k is None else values.get(k),
            }
            for p, (d, k) in sorted(writes.items())
        ],
    )
    return root


_CHAIN = (
    select(ExchangeRecord.leaf_index, TreeNode.digest)
    .join(TreeNode, TreeNode.key == ExchangeRecord.leaf_index * 64, isouter=True)
    .where(ExchangeRecord.citizen == bindparam("citizen"), ExchangeRecord.leaf_index < bindparam("size"))
    .order_by(ExchangeRecord.leaf_index)
)


def chain_records(session: Session, citizen: str, tree_size: int) -> list[tuple[int, bytes]]:
    """The person's records in the tree of ``tree_size``, as (leaf index, stored leaf hash), in leaf order."""
    rows = session.connection().execute(_CHAIN, {"citizen": citizen, "size": tree_size}).all()
    return [(leaf, bytes(digest) if digest is not None else b"") for leaf, digest in rows]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def page_proof(session: Session, citizen: str, tree_size: int, shown: Iterable[int]) -> dict[str, Any]:
    """What a client needs to check a history page is the newest part of a complete history.

    The chain segment from the oldest record shown (``shown``: leaf indexes on the page) to the person's
    chain head, the chain value before it, and the map proof of the head under the signed map root.
    """
    chain = chain_records(session, citizen, tree_size)
    positions = {leaf: i for i, (leaf, _hash) in enumerate(chain)}
    start = min((positions[leaf] for leaf in shown if leaf in positions), default=len(chain))
    before = smt.ZERO
    for leaf, leaf_hash in chain[:start]:
        before = smt.chain_step(before, leaf, leaf_hash)
    key = smt.map_key(citizen)
    values: dict[int, bytes] = {}
    proof = smt.prove(smt.fetch(load_nodes(session, values), [key], levels=PROOF_LEVELS), key)
    terminal = None
    if proof.terminal is not None:  # a leaf: its whole preimage, so the client can hash it itself
        digest, leaf_key = proof.terminal
        value = values.get(leaf_key or 0, b"")
        terminal = {
            "key": _b64((leaf_key or 0).to_bytes(32, "big")),
            "digest": _b64(digest),
            "count": int.from_bytes(value[:8], "big") if len(value) == 40 else None,
            "chain_head": _b64(value[8:]) if len(value) == 40 else None,
        }
    return {
        "chain_length": len(chain),
        "segment_start": start,
        "chain_before": _b64(before),
        "segment": [{"leaf_index": leaf, "leaf_hash": _b64(h)} for leaf, h in chain[start:]],
        "map_key": _b64(key.to_bytes(32, "big")),
        "map_siblings": [_b64(s) for s in proof.siblings],
        "map_terminal": terminal,
    }
