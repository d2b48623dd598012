"""The product's Merkle code against the independent RFC 6962 reading."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openmyna.network import merkle
from tests.network import rfc6962


def _tree(entries: list[bytes]) -> tuple[dict[merkle.NodeKey, bytes], list[tuple[merkle.NodeKey, bytes]], int]:
    nodes: dict[merkle.NodeKey, bytes] = {}
    frontier: list[tuple[merkle.NodeKey, bytes]] = []
    size = 0
    for start in range(0, len(entries), 7):  # appended in uneven batches, as the sequencer does
        created, frontier, size = merkle.append_leaves(
            frontier, size, [merkle.leaf_hash(e) for e in entries[start : start + 7]]
        )
        nodes.update(created)
    return nodes, frontier, size


sizes = st.integers(min_value=1, max_value=70)


@settings(max_examples=60, deadline=None)
@given(sizes)
def test_roots_paths_and_proofs_match_the_rfc(n: int) -> None:
    entries = [f"entry-{i}".encode() for i in range(n)]
    nodes, frontier, size = _tree(entries)
    assert size == n
    root = rfc6962.mth(entries)
    assert merkle.root_from_frontier(frontier) == root
    assert merkle.subtree_hash(nodes.__getitem__, 0, n) == root
    for m in range(n):
        audit = merkle.inclusion_path(nodes.__getitem__, m, n)
        assert audit == rfc6962.path(m, entries)
        assert rfc6962.verify_inclusion(entries[m], m, n, audit, root)
        assert not rfc6962.verify_inclusion(entries[m] + b"x", m, n, audit, root)
    for old in range(1, n + 1):
        consistency = merkle.consistency_path(nodes.__getitem__, old, n)
        assert consistency == rfc6962.proof(old, entries)
        assert rfc6962.verify_consistency(old, n, rfc6962.mth(entries[:old]), root, consistency)


def test_frontier_keys_cover_the_tree() -> None:
    assert merkle.frontier_keys(37) == [(5, 0), (2, 8), (0, 36)]
    assert merkle.frontier_keys(0) == []


def test_needed_nodes_are_exactly_what_a_proof_reads() -> None:
    entries = [bytes([i]) for i in range(23)]
    nodes, _frontier, _size = _tree(entries)
    wanted = merkle.needed_nodes(lambda lookup: merkle.inclusion_path(lookup, 5, 23))
    assert merkle.inclusion_path({k: nodes[k] for k in wanted}.__getitem__, 5, 23) == rfc6962.path(5, entries)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8))
def test_extend_frontier_gives_the_frontier_of_appending_one_by_one(batches: list[int]) -> None:
    """The verifier's run-wise folding agrees with the sequencer's leaf-by-leaf append and with the RFC."""
    entries = [f"entry-{i}".encode() for i in range(sum(batches))]
    leaves = [merkle.leaf_hash(e) for e in entries]
    frontier: list[tuple[merkle.NodeKey, bytes]] = []
    size = 0
    for count in batches:
        frontier, size = merkle.extend_frontier(frontier, size, leaves[size : size + count])
    _created, expected, expected_size = merkle.append_leaves([], 0, leaves)
    assert (frontier, size) == (expected, expected_size)
    assert merkle.root_from_frontier(frontier) == rfc6962.mth(entries)
