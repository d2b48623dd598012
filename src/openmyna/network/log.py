"""The exchange log: append-only records, a sequencer that folds them into an RFC 6962 tree and
signs tree heads, proofs for anyone, and a verifier that recomputes everything from storage.

Records are appended by the exchange path with no lock; the sequencer (run on a schedule, one at a
time) gives them leaf indices, stores the new perfect subtrees and publishes a signed tree head.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
from collections.abc import Iterable

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.core.db import bulk_insert
from openmyna.core.errors import NotFound
from openmyna.network import completeness, merkle
from openmyna.network.models import ExchangeRecord, PurgeStatement, TreeHead, TreeNode

SEQUENCE_BATCH = 20_000
_SEQUENCER_LOCK = 0x6F6D6E6574  # "omnet": one sequencer at a time on PostgreSQL


class NoTreeHead(NotFound):
    slug = "no-tree-head"
    title_ja = "署名付きツリーヘッドがありません"
    title_en = "No signed tree head yet"


def tree_head_message(tree_size: int, timestamp_ms: int, root: bytes) -> bytes:
    """RFC 6962 §3.5 TreeHeadSignature: version v1, signature_type tree_hash, timestamp, size, root."""
    return struct.pack(">BBQQ", 0, 1, timestamp_ms, tree_size) + root


def latest_head(session: Session) -> TreeHead | None:
    return session.scalar(select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1))


def head_json(head: TreeHead) -> dict[str, object]:
    """The signed tree head in the shape of RFC 6962 get-sth, with the person map's root and its signature."""
    return {
        "tree_size": head.tree_size,
        "timestamp": head.timestamp_ms,
        "sha256_root_hash": base64.b64encode(head.root_hash).decode(),
        "tree_head_signature": base64.b64encode(head.signature).decode(),
        "signature_algorithm": "Ed25519",
        "sha256_map_root": base64.b64encode(head.map_root).decode() if head.map_root is not None else None,
        "map_head_signature": base64.b64encode(head.map_signature).decode() if head.map_signature is not None else None,
    }


def _lookup_nodes(session: Session, keys: Iterable[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    wanted = {merkle.node_key(level, index): (level, index) for level, index in keys}
    found: dict[merkle.NodeKey, bytes] = {}
    ids = list(wanted)
    connection = session.connection()
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        if connection.dialect.name == "postgresql":  # one array parameter: no statement with a thousand binds
            rows = connection.exec_driver_sql(
                "SELECT key, digest FROM network_tree_nodes WHERE key = ANY(%s)", (chunk,)
            ).all()
        else:
            rows = session.execute(select(TreeNode.key, TreeNode.digest).where(TreeNode.key.in_(chunk))).all()
        found.update({wanted[key]: bytes(digest) for key, digest in rows})
    missing = set(wanted.values()) - found.keys()
    if missing:
        raise NotFound(f"the log is missing {len(missing)} stored subtree(s), e.g. {sorted(missing)[0]}")
    return found


def _lock_sequencer(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite transactions already take the write lock at BEGIN
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(_SEQUENCER_LOCK))))


def _catch_up_map(session: Session, size: int, batch: int) -> bytes:
    """Fold the records sequenced before the person map existed (an upgraded store) into it; its root."""
    mapped = session.scalar(select(func.max(TreeHead.tree_size)).where(TreeHead.map_root.is_not(None))) or 0
    root = completeness.map_root(session)
    for start in range(mapped, size, batch):
        rows = session.execute(
            select(ExchangeRecord.leaf_index, ExchangeRecord.entry, ExchangeRecord.citizen, TreeNode.digest)
            .join(TreeNode, TreeNode.key == ExchangeRecord.leaf_index * 64)
            .where(ExchangeRecord.leaf_index >= start, ExchangeRecord.leaf_index < min(start + batch, size))
            .order_by(ExchangeRecord.leaf_index)
        ).all()
        root = completeness.fold(
            session,
            [
                (completeness.citizen_of_entry(entry) if entry else citizen, leaf, bytes(digest))
                for leaf, entry, citizen, digest in rows
            ],
        )
    return root


def publish(session: Session, *, keys: KeyRing, batch: int = SEQUENCE_BATCH) -> TreeHead | None:
    """Sequence every unsequenced record, fold it into its person's chain and the person map, and sign a
    new tree head with the map's root beside it, in the caller's transaction; None if another sequencer runs."""
    if not _lock_sequencer(session):
        return None
    head = latest_head(session)
    size = head.tree_size if head else 0
    frontier_keys = merkle.frontier_keys(size)
    stored = _lookup_nodes(session, frontier_keys)
    frontier = [(key, stored[key]) for key in frontier_keys]
    connection = session.connection()
    root_of_map = _catch_up_map(session, size, batch)
    while True:
        rows = session.execute(
            select(ExchangeRecord.id, ExchangeRecord.entry)
            .where(ExchangeRecord.leaf_index.is_(None))
            .order_by(ExchangeRecord.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        leaves = [merkle.leaf_hash(entry.encode()) for _id, entry in rows]
        created, frontier, new_size = merkle.append_leaves(frontier, size, leaves)
        bulk_insert(
            connection,
            TreeNode.__table__,
            ("key", "digest"),
            ((merkle.node_key(*key), digest) for key, digest in created),
        )
        connection.execute(
            update(ExchangeRecord)
            .where(ExchangeRecord.id == bindparam("record_id"))
            .values(leaf_index=bindparam("leaf"))
            .execution_options(synchronize_session=False),
            [{"record_id": record_id, "leaf": size + offset} for offset, (record_id, _entry) in enumerate(rows)],
        )
        # The chains follow the pseudonym in the hashed entry, never the (editable) citizen column.
        root_of_map = completeness.fold(
            session,
            [
                (completeness.citizen_of_entry(entry), size + offset, leaf)
                for offset, ((_id, entry), leaf) in enumerate(zip(rows, leaves, strict=True))
            ],
        )
        size = new_size
    if head is not None and head.tree_size == size:
        if head.map_root is None:  # a head signed before the map existed: sign its map beside it
            head.map_root = root_of_map
            head.map_signature = keys.log_signing_key.sign(
                completeness.map_head_message(size, head.timestamp_ms, head.root_hash, root_of_map)
            )
            session.flush()
        return head
    root = merkle.root_from_frontier(frontier)
    timestamp_ms = int(clock.now().timestamp() * 1000)
    signature = keys.log_signing_key.sign(tree_head_message(size, timestamp_ms, root))
    map_signature = keys.log_signing_key.sign(completeness.map_head_message(size, timestamp_ms, root, root_of_map))
    new_head = TreeHead(
        tree_size=size,
        root_hash=root,
        timestamp_ms=timestamp_ms,
        signature=signature,
        map_root=root_of_map,
        map_signature=map_signature,
    )
    session.add(new_head)
    session.flush()
    return new_head


def inclusion_proofs(session: Session, leaves: list[int], tree_size: int) -> dict[int, list[bytes]]:
    """Audit paths of several leaves against one tree size, with one round trip for the nodes.

    The leaves' paths share most of their upper ranges: each distinct range is hashed once.
    """
    ranges = {leaf: merkle.inclusion_ranges(leaf, tree_size) for leaf in leaves}
    distinct = {r for path in ranges.values() for r in path}

    def build(lookup: merkle.Lookup) -> dict[tuple[int, int], bytes]:
        return {(start, end): merkle.subtree_hash(lookup, start, end) for start, end in distinct}

    nodes = _lookup_nodes(session, merkle.needed_nodes(build))
    hashes = build(nodes.__getitem__)
    return {leaf: [hashes[r] for r in path] for leaf, path in ranges.items()}


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    def build(lookup: merkle.Lookup) -> list[bytes]:
        return merkle.consistency_path(lookup, old_size, new_size)

    nodes = _lookup_nodes(session, merkle.needed_nodes(build))
    return build(nodes.__getitem__)


def retention_cutoff(now: dt.datetime, *, years: int) -> dt.datetime:
    """The instant ``years`` before ``now`` (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def purge(session: Session, *, keys: KeyRing, older_than: dt.datetime) -> PurgeStatement | None:
    """Drop the entries of records older than the retention period (7 years); their leaf hashes stay,
    so the tree still verifies, and a signed statement says what was removed and when."""
    rows = session.execute(
        select(ExchangeRecord.id, ExchangeRecord.leaf_index).where(
            ExchangeRecord.recorded_at < older_than,
            ExchangeRecord.purged.is_(False),
            ExchangeRecord.leaf_index.is_not(None),
        )
    ).all()
    if not rows:
        return None
    leaves = [leaf for _id, leaf in rows if leaf is not None]
    session.execute(
        update(ExchangeRecord)
        .where(ExchangeRecord.id.in_([record_id for record_id, _ in rows]))
        .values(entry="", purged=True)
        .execution_options(synchronize_session=False)
    )
    now = clock.now()
    body = {
        "purged_at": now.isoformat(),
        "cutoff": older_than.isoformat(),
        "count": len(rows),
        "first_leaf": min(leaves),
        "last_leaf": max(leaves),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    statement = PurgeStatement(
        purged_at=now,
        first_leaf=min(leaves),
        last_leaf=max(leaves),
        count=len(rows),
        cutoff=older_than,
        statement=text,
        signature=keys.log_signing_key.sign(text.encode()),
    )
    session.add(statement)
    session.flush()
    return statement
