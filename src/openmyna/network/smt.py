"""The person map: each person's hash chain of their records, and a sparse Merkle tree over the chain heads.

Pure hashing, no storage (see :mod:`openmyna.network.completeness`). The algorithm, as an independent
client implements it, is in docs/network.md ("Completeness").

* A person's chain: ``c_0 = 32 zero bytes``, ``c_i = SHA-256(0x02 ‖ c_{i-1} ‖ u64(leaf_index) ‖ leaf_hash)``
  over the person's records in leaf order (``leaf_hash`` is the record's RFC 6962 leaf hash).
* The map is keyed by ``SHA-256(pseudonym)``; a person's map leaf is ``SHA-256(0x00 ‖ key ‖ u64(count) ‖ c_count)``.
* The tree has shortcut leaves (as Diem's Jellyfish Merkle tree): an empty subtree is 32 zero bytes, a
  subtree holding one leaf *is* that leaf, any other is ``SHA-256(0x01 ‖ left ‖ right)``. So a lookup walks
  about log2(persons) levels instead of 256, and only non-empty nodes are stored.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from openmyna.network.merkle import node_hash

ZERO = bytes(32)
BITS = 256
Node = tuple[bytes, int | None]  # (digest, the key of the one leaf it is, or None for an internal node)


def map_key(pseudonym: str) -> int:
    """The person's position in the map: SHA-256 of the pseudonym, as a 256-bit integer."""
    return int.from_bytes(hashlib.sha256(pseudonym.encode()).digest(), "big")


def chain_step(previous: bytes, leaf_index: int, leaf_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x02" + previous + leaf_index.to_bytes(8, "big") + leaf_hash).digest()


def leaf_digest(key: int, count: int, chain_head: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + key.to_bytes(32, "big") + count.to_bytes(8, "big") + chain_head).digest()


def bit(key: int, depth: int) -> int:
    return (key >> (BITS - 1 - depth)) & 1


def path(key: int, depth: int) -> bytes:
    """The stored id of the node at ``depth`` on ``key``'s path: the depth and the key's first ``depth`` bits."""
    prefix = (key >> (BITS - depth) << (BITS - depth)) if depth else 0
    return depth.to_bytes(2, "big") + prefix.to_bytes(32, "big")[: (depth + 7) // 8]


def sibling_path(key: int, depth: int) -> bytes:
    """The node beside ``path(key, depth)`` (``depth`` ≥ 1)."""
    return path(key ^ (1 << (BITS - depth)), depth)


Load = Callable[[set[bytes]], dict[bytes, Node]]


def fetch(load: Load, keys: Iterable[int], *, levels: int = 1) -> dict[bytes, Node]:
    """Every stored node on the keys' paths and beside them, ``levels`` levels per call of ``load``.

    A walk ends at an empty subtree or a leaf, about log2(persons) levels down; one person's proof asks
    for many levels at once (one round trip), a sequencer batch of many persons a level at a time.
    """
    nodes: dict[bytes, Node] = {}
    active = set(keys)
    depth = 0
    while active:
        wanted: set[bytes] = set()
        for level in range(depth, depth + levels):
            wanted |= {path(k, level) for k in active}
            if level:
                wanted |= {sibling_path(k, level) for k in active}
        nodes.update(load(wanted))
        still = set()
        for key in active:
            level = depth
            while (node := nodes.get(path(key, level))) is not None and node[1] is None:
                level += 1
                if level == depth + levels:
                    still.add(key)
                    break
        active = still
        depth += levels
    return nodes


def build(keys: list[int], digests: list[bytes], writes: dict[bytes, Node], depth: int = 0) -> bytes:
    """The subtree at ``depth`` over sorted ``keys`` (all sharing their first ``depth`` bits), written to ``writes``."""

    def subtree(lo: int, hi: int, depth: int) -> bytes:
        if hi - lo == 1:
            writes[path(keys[lo], depth)] = (digests[lo], keys[lo])
            return digests[lo]
        shift = BITS - 1 - depth
        boundary = ((keys[lo] >> shift) | 1) << shift
        mid = bisect.bisect_left(keys, boundary, lo, hi)
        left = subtree(lo, mid, depth + 1) if mid > lo else ZERO
        right = subtree(mid, hi, depth + 1) if hi > mid else ZERO
        digest = node_hash(left, right)
        writes[path(keys[lo], depth)] = (digest, None)
        return digest

    return subtree(0, len(keys), depth) if keys else ZERO


def update(nodes: dict[bytes, Node], leaves: dict[int, bytes]) -> tuple[bytes, dict[bytes, Node]]:
    """Set map leaves (key → leaf digest) in the tree whose nodes on those paths are ``nodes`` (see :func:`fetch`).

    Returns the new root and the nodes to store; no node is ever removed (persons are only added).
    """
    writes: dict[bytes, Node] = {}

    def descend(items: list[tuple[int, bytes]], depth: int) -> bytes:
        node = nodes.get(path(items[0][0], depth))
        if node is None or node[1] is not None:  # empty, or one leaf: rebuild this subtree from its leaves
            group = dict(items)
            if node is not None and node[1] not in group:
                group[node[1]] = node[0]  # type: ignore[index]
            ordered = sorted(group)
            return build(ordered, [group[k] for k in ordered], writes, depth)
        left = [i for i in items if not bit(i[0], depth)]
        right = [i for i in items if bit(i[0], depth)]
        key = items[0][0]
        child = path(key, depth + 1) if bit(key, depth) == 0 else sibling_path(key, depth + 1)
        other = sibling_path(key, depth + 1) if bit(key, depth) == 0 else path(key, depth + 1)
        left_digest = descend(left, depth + 1) if left else nodes.get(child, (ZERO, None))[0]
        right_digest = descend(right, depth + 1) if right else nodes.get(other, (ZERO, None))[0]
        digest = node_hash(left_digest, right_digest)
        writes[path(key, depth)] = (digest, None)
        return digest

    root = descend(sorted(leaves.items()), 0) if leaves else nodes.get(path(0, 0), (ZERO, None))[0]
    return root, writes


@dataclass(frozen=True)
class MapProof:
    """The siblings from the root down to where ``key``'s walk ends, and what it ends at."""

    siblings: list[bytes]
    terminal: Node | None  # the leaf found there (maybe another person's), or None for an empty subtree


def prove(nodes: dict[bytes, Node], key: int) -> MapProof:
    siblings = []
    depth = 0
    node = nodes.get(path(key, 0))
    while node is not None and node[1] is None:
        depth += 1
        siblings.append(nodes.get(sibling_path(key, depth), (ZERO, None))[0])
        node = nodes.get(path(key, depth))
    return MapProof(siblings, node)


def root_from_proof(key: int, terminal: bytes, siblings: list[bytes]) -> bytes:
    """Fold the siblings (root-side first) up from the terminal digest at depth ``len(siblings)``."""
    digest = terminal
    for depth in range(len(siblings), 0, -1):
        sibling = siblings[depth - 1]
        digest = node_hash(sibling, digest) if bit(key, depth - 1) else node_hash(digest, sibling)
    return digest
