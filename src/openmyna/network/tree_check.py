"""``openmyna network verify``'s check of the stored tree nodes (``network_tree_nodes``).

The tree pass (:mod:`openmyna.network.verify`) recomputes the leaves from the entries and folds them into
the signed roots; proofs, though, are built from the *stored* perfect subtrees, so each of those is
compared with the one the entries give: level by level within each aligned chunk of leaves (one range
of the primary key a level; on PostgreSQL the database hashes the level's stored digests in order and
only 32 bytes cross the wire), then the few nodes above the chunks, then the count, so that nothing is
stored beyond the signed tree either.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.engine import Connection

from openmyna.network import merkle

_LEVEL_DIGEST = (  # the stored digests of one level over a range of indexes, in order, hashed together
    "SELECT count(digest), count(*), sha256(string_agg(digest, ''::bytea ORDER BY key)) FROM network_tree_nodes "
    "WHERE key >= %(low)s AND key < %(high)s AND (key & 63) = %(level)s"
)
_LEVEL_ROWS = (
    "SELECT key, digest FROM network_tree_nodes WHERE key >= {p} AND key < {p} AND (key & 63) = {p} ORDER BY key"
)


class NodeMismatch(Exception):
    """The first stored node that is not the one the entries give."""

    def __init__(self, problem: str, leaf: int | None) -> None:
        super().__init__(problem)
        self.problem, self.leaf = problem, leaf


def expected_count(size: int) -> int:
    """How many perfect subtrees a tree of ``size`` leaves has."""
    return sum(size >> level for level in range(size.bit_length()))


def name(level: int, index: int) -> str:
    first = index << level
    return f"the stored tree node at level {level}, index {index} (leaves {first}–{first + (1 << level) - 1})"


def _first_difference(connection: Connection, level: int, first: int, expected: list[bytes]) -> NodeMismatch:
    """Read the level's stored nodes row by row to name the first that differs."""
    postgres = connection.dialect.name == "postgresql"
    query = _LEVEL_ROWS.format(p="%s" if postgres else "?")
    rows = connection.exec_driver_sql(query, (first << 6, (first + len(expected)) << 6, level)).all()
    stored = {int(key) >> 6: (None if digest is None else bytes(digest)) for key, digest in rows}
    for offset, digest in enumerate(expected):
        index = first + offset
        if index not in stored:
            return NodeMismatch(f"{name(level, index)} is missing", index << level)
        if stored[index] != digest:
            return NodeMismatch(f"{name(level, index)} is not the hash of the records under it", index << level)
    return NodeMismatch(
        f"the stored tree at level {level} from index {first} has nodes that are not its own", first << level
    )


def levels(nodes: list[bytes], *, top: int) -> list[list[bytes]]:
    """The perfect subtrees over an aligned run of ``nodes``, level by level (``[0]`` is ``nodes``), up to
    ``top`` levels above them: the one hashing a verifier does, shared by the fold and the node check."""
    out = [nodes]
    sha256 = hashlib.sha256
    while len(out) <= top and len(out[-1]) > 1:
        pairs = iter(out[-1])
        out.append([sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)])
    return out


def frontier(run: list[list[bytes]], start: int, size: int) -> list[tuple[merkle.NodeKey, bytes]]:
    """The right-edge frontier (largest subtree first) of the leaves ``[start, size)`` of a run's levels."""
    offset, position, out = size - start, 0, []
    for level in range(len(run) - 1, -1, -1):
        if offset & (1 << level):
            out.append(((level, (start + position) >> level), run[level][position >> level]))
            position += 1 << level
    return out


def compare(connection: Connection, run: list[list[bytes]], *, base: int, index: int, from_level: int) -> None:
    """Compare the stored nodes with a run's levels (``run[0]`` at level ``base``, its first node at ``index``),
    from level ``from_level`` up; raise :class:`NodeMismatch` at the first that differs."""
    postgres = connection.dialect.name == "postgresql"
    for offset, expected in enumerate(run):
        level = base + offset
        if level < from_level or not expected:
            continue
        first = index >> offset
        low, high = first << 6, (first + len(expected)) << 6
        if postgres:
            present, rows, digest = connection.exec_driver_sql(
                _LEVEL_DIGEST, {"low": low, "high": high, "level": level}
            ).one()
            joined = hashlib.sha256(b"".join(expected)).digest()
            same = present == rows == len(expected) and digest is not None and bytes(digest) == joined
        else:
            stored = connection.exec_driver_sql(_LEVEL_ROWS.format(p="?"), (low, high, level)).all()
            same = len(stored) == len(expected) and all(
                d is not None and bytes(d) == e for (_k, d), e in zip(stored, expected, strict=True)
            )
        if not same:
            raise _first_difference(connection, level, first, expected)


def check_count(connection: Connection, size: int) -> str:
    """After every level was compared: the table holds exactly the tree's nodes, none beyond it."""
    count = connection.exec_driver_sql("SELECT count(*) FROM network_tree_nodes").scalar() or 0
    if count != expected_count(size):
        return (
            f"the stored tree has {count} nodes where a tree of {size} leaves has {expected_count(size)}: "
            "nodes are stored beyond the latest signed head"
        )
    return ""
