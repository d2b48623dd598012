"""RFC 6962 Merkle tree hashing, audit paths and consistency proofs over stored perfect subtrees.

A tree of n leaves is addressed by its *perfect* subtrees: node ``(level, index)`` is the hash of
leaves ``[index·2^level, (index+1)·2^level)``. Those are the only hashes ever stored; every other
MTH(D[a:b]) of RFC 6962 §2.1 is combined from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()
NodeKey = tuple[int, int]
Lookup = Callable[[NodeKey], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def node_key(level: int, index: int) -> int:
    """One integer per perfect subtree, for a compact primary key."""
    return (index << 6) | level


def subtree_hash(lookup: Lookup, start: int, end: int) -> bytes:
    """MTH(D[start:end]) from perfect subtrees."""
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return lookup((level, start >> level))
    k = split_point(size)
    return node_hash(subtree_hash(lookup, start, start + k), subtree_hash(lookup, start + k, end))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[start, end)`` whose MTHs make PATH(m, D[n]) of RFC 6962 §2.1.1, leaf-side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def inclusion_path(lookup: Lookup, index: int, size: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1, leaf-side first."""
    return [subtree_hash(lookup, start, end) for start, end in inclusion_ranges(index, size)]


def consistency_path(lookup: Lookup, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2."""

    def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [subtree_hash(lookup, start, end)]
        k = split_point(n)
        if m <= k:
            return [*subproof(m, start, start + k, complete), subtree_hash(lookup, start + k, end)]
        return [*subproof(m - k, start + k, end, False), subtree_hash(lookup, start, start + k)]

    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")
    return subproof(old_size, 0, new_size, True)


def needed_nodes(build: Callable[[Lookup], object]) -> set[NodeKey]:
    """The perfect subtrees a computation reads, found by running it once on placeholders."""
    seen: set[NodeKey] = set()

    def record(key: NodeKey) -> bytes:
        seen.add(key)
        return EMPTY_ROOT

    build(record)
    return seen


def frontier_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees along the right edge of a tree of ``size`` leaves, largest first."""
    keys = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def append_leaves(
    frontier: list[tuple[NodeKey, bytes]], size: int, leaves: Iterable[bytes]
) -> tuple[list[tuple[NodeKey, bytes]], list[tuple[NodeKey, bytes]], int]:
    """Append leaf hashes to a tree given its right-edge frontier.

    Returns the new perfect subtrees (to store), the new frontier and the new size.
    """
    stack = list(frontier)
    created: list[tuple[NodeKey, bytes]] = []
    for leaf in leaves:
        key, digest = (0, size), leaf
        created.append((key, digest))
        size += 1
        while stack and stack[-1][0][0] == key[0]:
            (level, index), left = stack.pop()
            key, digest = (level + 1, index >> 1), node_hash(left, digest)
            created.append((key, digest))
        stack.append((key, digest))
    return created, stack, size


def perfect_root(leaves: Sequence[bytes]) -> bytes:
    """MTH of a power-of-two run of leaf hashes, one level at a time (6× faster than appending singly)."""
    level = list(leaves)
    while len(level) > 1:
        pairs = iter(level)
        level = [_sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=True)]
    return level[0]


def extend_frontier(
    frontier: list[tuple[NodeKey, bytes]], size: int, leaves: Sequence[bytes]
) -> tuple[list[tuple[NodeKey, bytes]], int]:
    """:func:`append_leaves` for verifiers: the new frontier and size, without the created subtrees.

    The leaves are cut into the largest aligned power-of-two runs, each hashed level by level and
    pushed onto the frontier as one perfect subtree.
    """
    stack = frontier
    position = 0
    while position < len(leaves):
        run = 1 << (len(leaves) - position).bit_length() - 1
        if size:
            run = min(run, size & -size)  # a run must start on a multiple of its own length
        level = run.bit_length() - 1
        stack = join_frontiers(stack, [((level, size >> level), perfect_root(leaves[position : position + run]))])
        position += run
        size += run
    return stack, size


def root_from_frontier(frontier: list[tuple[NodeKey, bytes]]) -> bytes:
    """MTH of the whole tree from its right-edge frontier (largest subtree first)."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1][1]
    for _key, digest in reversed(frontier[:-1]):
        root = node_hash(digest, root)
    return root


def join_frontiers(
    left: list[tuple[NodeKey, bytes]], right: list[tuple[NodeKey, bytes]]
) -> list[tuple[NodeKey, bytes]]:
    """The frontier of a tree whose leaves are ``left``'s followed by ``right``'s (``right`` aligned)."""
    stack = list(left)
    for key, digest in right:
        while stack and stack[-1][0][0] == key[0]:
            (level, index), earlier = stack.pop()
            key, digest = (level + 1, index >> 1), node_hash(earlier, digest)
        stack.append((key, digest))
    return stack
