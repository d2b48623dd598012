"""The person map's node fetch: several levels per round trip give exactly the proofs one level at a time gives,
also when a walk goes deeper than one batch of levels (two persons whose keys share a long prefix)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from openmyna.network import smt
from openmyna.network.merkle import node_hash


def _map(keys: list[int]) -> tuple[bytes, dict[bytes, smt.Node]]:
    ordered = sorted(set(keys))
    nodes: dict[bytes, smt.Node] = {}
    root = smt.build(ordered, [smt.leaf_digest(k, 1, bytes(32)) for k in ordered], nodes)
    return root, nodes


def _loader(nodes: dict[bytes, smt.Node], calls: list[int]) -> smt.Load:
    def load(paths: set[bytes]) -> dict[bytes, smt.Node]:
        calls.append(len(paths))
        return {p: nodes[p] for p in paths if p in nodes}

    return load


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=0, max_value=200),
    st.sampled_from([2, 5, 32, 64]),
    st.integers(min_value=0, max_value=2**32),
)
def test_many_levels_per_load_prove_what_one_level_does(persons: int, shared: int, levels: int, seed: int) -> None:
    rng = random.Random(seed)
    prefix = rng.getrandbits(smt.BITS)
    # Half the persons share ``shared`` leading bits: their walks go that deep.
    keys = [
        rng.getrandbits(smt.BITS)
        if i % 2
        else (prefix >> (smt.BITS - shared) << (smt.BITS - shared) if shared else 0)
        | rng.getrandbits(smt.BITS - shared)
        for i in range(persons)
    ]
    root, stored = _map(keys)
    asked = [*keys[:5], rng.getrandbits(smt.BITS), prefix]
    one_calls: list[int] = []
    one = smt.fetch(_loader(stored, one_calls), asked)
    many_calls: list[int] = []
    many = smt.fetch(_loader(stored, many_calls), asked, levels=levels)
    assert len(many_calls) <= len(one_calls)
    for key in asked:
        proof = smt.prove(many, key)
        assert proof == smt.prove(one, key)
        terminal = smt.ZERO if proof.terminal is None else proof.terminal[0]
        assert smt.root_from_proof(key, terminal, proof.siblings) == root
    leaves = {k: smt.leaf_digest(k, 2, bytes(32)) for k in asked}
    assert smt.update(many, leaves)[0] == smt.update(one, leaves)[0]


def _reference_build(keys: list[int], digests: list[bytes], writes: dict[bytes, smt.Node], depth: int) -> bytes:
    """The map's definition node by node (smt's docstring): a subtree of one leaf is the leaf, none is zero."""

    def subtree(group: list[int], depth: int) -> bytes:
        if len(group) == 1:
            writes[smt.path(keys[group[0]], depth)] = (digests[group[0]], keys[group[0]])
            return digests[group[0]]
        left = [i for i in group if not smt.bit(keys[i], depth)]
        right = [i for i in group if smt.bit(keys[i], depth)]
        digest = node_hash(
            subtree(left, depth + 1) if left else smt.ZERO, subtree(right, depth + 1) if right else smt.ZERO
        )
        writes[smt.path(keys[group[0]], depth)] = (digest, None)
        return digest

    return subtree(list(range(len(keys))), depth) if keys else smt.ZERO


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=2**32),
)
def test_build_writes_exactly_the_nodes_of_the_definition(persons: int, shared: int, depth: int, seed: int) -> None:
    """Also under a part's depth (verify rebuilds the map in parts) and with long shared prefixes."""
    rng = random.Random(seed)
    prefix = rng.getrandbits(smt.BITS) >> (smt.BITS - depth) << (smt.BITS - depth) if depth else 0
    shared = max(shared, depth)
    common = rng.getrandbits(smt.BITS) >> (smt.BITS - shared) << (smt.BITS - shared) if shared else 0
    common = prefix | (common & ((1 << (smt.BITS - depth)) - 1)) if depth else common
    keys = sorted(
        {
            (common if i % 2 else prefix) | rng.getrandbits(smt.BITS - (shared if i % 2 else depth))
            for i in range(persons)
        }
    )
    digests = [smt.leaf_digest(k, 1, bytes(32)) for k in keys]
    fast: dict[bytes, smt.Node] = {}
    reference: dict[bytes, smt.Node] = {}
    assert smt.build(keys, digests, fast, depth) == _reference_build(keys, digests, reference, depth)
    assert fast == reference
