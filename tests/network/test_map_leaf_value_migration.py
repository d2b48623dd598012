"""Migration 0403 on a store that already has a person map: every leaf gets the rest of its preimage
(count and chain head) from the persons' chains, so absence proofs work on an upgraded store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from openmyna.app.migrate import alembic_config, upgrade
from openmyna.core.db import make_engine
from openmyna.network import smt
from tests.conftest import BACKENDS, PG_URL, _worker_database, drop_database


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of this test's own (the suite's is already at the newest revision)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'upgrade.db'}"
    elif not PG_URL:
        pytest.skip("PostgreSQL tests skipped: set OPENMYNA_TEST_DATABASE_URL to run them")
    else:
        url = _worker_database(PG_URL, os.environ.get("PYTEST_XDIST_WORKER", "main") + "_map_leaf_value")
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if request.param != "sqlite":
        drop_database(url)


def test_an_upgraded_map_keeps_every_leafs_preimage(fresh: Engine) -> None:
    command.upgrade(alembic_config(fresh), "0402")
    chains = {f"person:{i:032x}": (i + 1, bytes([i]) * 32) for i in range(5)}
    keys = sorted(smt.map_key(c) for c in chains)
    by_key = {smt.map_key(c): v for c, v in chains.items()}
    nodes: dict[bytes, smt.Node] = {}
    smt.build(keys, [smt.leaf_digest(k, *by_key[k]) for k in keys], nodes)
    with fresh.begin() as connection:
        connection.execute(
            text("INSERT INTO network_person_chains (citizen, count, head) VALUES (:c, :n, :h)"),
            [{"c": c, "n": n, "h": h} for c, (n, h) in chains.items()],
        )
        connection.execute(
            text("INSERT INTO network_map_nodes (path, digest, leaf_key) VALUES (:p, :d, :k)"),
            [{"p": p, "d": d, "k": None if k is None else k.to_bytes(32, "big")} for p, (d, k) in nodes.items()],
        )
    upgrade(fresh)
    with fresh.connect() as connection:
        rows = connection.execute(text("SELECT leaf_key, leaf_value FROM network_map_nodes")).all()
    leaves = {int.from_bytes(bytes(k), "big"): bytes(v) for k, v in rows if k is not None}
    assert leaves == {k: n.to_bytes(8, "big") + h for k, (n, h) in by_key.items()}
    assert all(v is None for k, v in rows if k is None)  # inner nodes have no value
