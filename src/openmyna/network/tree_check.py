"""``openmyna network verify``'s check of the stored tree nodes (``network_tree_nodes``).

The tree pass (:mod:`openmyna.network.verify`) recomputes the leaves from the entries and compares them
with the stored leaf nodes (and, on PostgreSQL, each block's stored perfect subtree) and with every signed
root. Proofs, though, are built from *all* stored perfect subtrees, so they are checked here too: the
stored set must be exactly the perfect subtrees of the signed tree, and every node above the leaves must
be the hash of its two stored children. With the leaves (or the blocks' roots) already checked against
the entries, that makes every stored node the right one, by induction up the tree.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.engine import Connection

# node (level, index) has key index << 6 | level; its children are (level-1, 2·index) and (level-1, 2·index+1)
_BEYOND = "(key >> 6) >= (CAST({size} AS BIGINT) >> CAST(key & 63 AS INTEGER))"  # index past its level's width
_EXACT_SET = (
    "SELECT count(*), coalesce(sum(CASE WHEN " + _BEYOND + " THEN 1 ELSE 0 END), 0), "
    "min(CASE WHEN " + _BEYOND + " THEN key END) FROM network_tree_nodes"
)
_INCONSISTENT = (
    "SELECT p.key FROM network_tree_nodes p "
    "JOIN network_tree_nodes a ON a.key = (p.key >> 6) * 128 + (p.key & 63) - 1 "
    "JOIN network_tree_nodes b ON b.key = (p.key >> 6) * 128 + 64 + (p.key & 63) - 1 "
    "WHERE (p.key & 63) > 0 AND (p.digest IS NULL OR {node} IS NULL OR {node} <> p.digest) ORDER BY p.key LIMIT 1"
)
# The first node that should be stored and is not: a child of a stored node, or the parent of two.
_MISSING = (
    "SELECT min(k) FROM ("
    "SELECT CASE WHEN a.key IS NULL THEN (p.key >> 6) * 128 + (p.key & 63) - 1 "
    "ELSE (p.key >> 6) * 128 + 64 + (p.key & 63) - 1 END AS k FROM network_tree_nodes p "
    "LEFT JOIN network_tree_nodes a ON a.key = (p.key >> 6) * 128 + (p.key & 63) - 1 "
    "LEFT JOIN network_tree_nodes b ON b.key = (p.key >> 6) * 128 + 64 + (p.key & 63) - 1 "
    "WHERE (p.key & 63) > 0 AND (a.key IS NULL OR b.key IS NULL) "
    "UNION ALL SELECT (c.key >> 7) * 64 + (c.key & 63) + 1 FROM network_tree_nodes c "
    "LEFT JOIN network_tree_nodes q ON q.key = (c.key >> 7) * 64 + (c.key & 63) + 1 "
    "WHERE q.key IS NULL AND (c.key >> 7) < (CAST({size} AS BIGINT) >> CAST((c.key & 63) + 1 AS INTEGER))) AS gaps"
)
_POSTGRES_NODE = "sha256('\\x01'::bytea || a.digest || b.digest)"


def _node_hash(left: bytes | None, right: bytes | None) -> bytes | None:
    if left is None or right is None:  # a NULL an insider wrote: no hash, so the node is named
        return None
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()


def expected_count(size: int) -> int:
    """How many perfect subtrees a tree of ``size`` leaves has (one per level for every whole run)."""
    return sum(size >> level for level in range(size.bit_length()))


def _name(key: int) -> tuple[str, int]:
    level, index = key & 63, key >> 6
    first = index << level
    return f"the stored tree node at level {level}, index {index} (leaves {first}–{first + (1 << level) - 1})", first


def check(connection: Connection, size: int) -> tuple[str, int | None]:
    """Empty if the stored nodes are exactly the perfect subtrees of ``size`` leaves and each inner node
    hashes its children; else the first bad node and the first leaf under it."""
    count, beyond, first_beyond = connection.exec_driver_sql(_EXACT_SET.format(size=int(size))).one()
    if beyond:
        name, leaf = _name(int(first_beyond))
        return f"{name} lies beyond the latest signed head (size {size})", leaf
    if count != expected_count(size):
        missing = connection.exec_driver_sql(_MISSING.format(size=int(size))).scalar()
        where = "" if missing is None else f"; {_name(int(missing))[0]} is missing"
        leaf = None if missing is None else _name(int(missing))[1]
        return (
            f"the stored tree has {count} nodes where a tree of {size} leaves has {expected_count(size)}{where}",
            leaf,
        )
    if connection.dialect.name == "postgresql":
        bad = connection.exec_driver_sql(_INCONSISTENT.format(node=_POSTGRES_NODE)).scalar()
    else:
        raw = connection.connection.driver_connection
        raw.create_function("openmyna_node_hash", 2, _node_hash, deterministic=True)  # type: ignore[union-attr]
        bad = connection.exec_driver_sql(_INCONSISTENT.format(node="openmyna_node_hash(a.digest, b.digest)")).scalar()
    if bad is not None:
        name, leaf = _name(int(bad))
        level, index = int(bad) & 63, int(bad) >> 6
        children = f"level {level - 1}, indexes {2 * index} and {2 * index + 1}"
        return f"{name} is not the hash of its two children ({children}): one of the three was changed", leaf
    return "", None
