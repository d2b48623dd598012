"""``openmyna network verify`` over several chunks (worker processes, each with its own connection, so the
log is committed to a database of the test's own): the stored nodes inside each chunk and above the chunks
are compared with the ones the entries give."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from openmyna.app.migrate import upgrade
from openmyna.core.crypto import KeyRing
from openmyna.network import log, service
from openmyna.network import verify as verifier
from tests.network.test_map_leaf_value_migration import fresh  # noqa: F401 (a fixture)

EXCHANGES = 19  # 38 leaves: with chunks of 4, nine full chunks and a short one; nodes up to level 5


def _log(engine: Engine, keys: KeyRing) -> None:
    """Exchanges appended as the exchange path appends them, sequenced under three signed heads."""
    at = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    with Session(engine) as session:
        for i in range(EXCHANGES):
            service.record_exchange(
                session,
                requester="nenkin",
                provider="131016",
                query={"business": "national_pension_premium", "item": "local_tax", "purpose_reference": f"C-{i}"},
                citizen=f"person:{i % 5:032x}",
                result="answered",
                reason="",
                asked_at=at,
                answered_at=at + dt.timedelta(seconds=i),
            )
            if i in (6, 13):
                log.publish(session, keys=keys)
        log.publish(session, keys=keys)
        session.commit()


@pytest.fixture
def chunked(fresh: Engine, keys: KeyRing, monkeypatch: pytest.MonkeyPatch) -> Engine:  # noqa: F811
    upgrade(fresh)
    _log(fresh, keys)
    monkeypatch.setattr(verifier, "CHUNK_LEVEL", 2)  # chunks of 4 leaves
    return fresh


def _verify(engine: Engine, keys: KeyRing) -> verifier.VerifyReport:
    with Session(engine) as session:
        return verifier.verify(session, keys=keys, workers=2)


def _change(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), {"zero": bytes(32)})


def test_a_log_over_many_chunks_verifies(chunked: Engine, keys: KeyRing) -> None:
    report = _verify(chunked, keys)
    assert report.ok and report.records == 2 * EXCHANGES and report.heads == 3, report


@pytest.mark.parametrize(
    ("statement", "said"),
    [
        (  # inside the sixth chunk (leaves 20–23), the level-1 node over leaves 22–23
            "UPDATE network_tree_nodes SET digest = :zero WHERE key = 11 * 64 + 1",
            "the stored tree node at level 1, index 11 (leaves 22–23) is not the hash of the records under it",
        ),
        (  # above the chunks: level 3 over leaves 8–15
            "UPDATE network_tree_nodes SET digest = :zero WHERE key = 1 * 64 + 3",
            "the stored tree node at level 3, index 1 (leaves 8–15) is not the hash of the records under it",
        ),
        (  # the top stored node, level 5 over leaves 0–31
            "DELETE FROM network_tree_nodes WHERE key = 0 * 64 + 5",
            "the stored tree node at level 5, index 0 (leaves 0–31) is missing",
        ),
        (  # a leaf of the short last chunk
            "UPDATE network_tree_nodes SET digest = :zero WHERE key = 37 * 64",
            "at leaf 37",
        ),
        (
            "INSERT INTO network_tree_nodes (key, digest) VALUES (19 * 64 + 1, :zero)",
            "nodes are stored beyond the latest signed head",
        ),
    ],
    ids=["in-a-chunk", "above-the-chunks", "top-deleted", "leaf-in-the-short-chunk", "beyond-the-head"],
)
def test_a_changed_node_anywhere_is_named(chunked: Engine, keys: KeyRing, statement: str, said: str) -> None:
    _change(chunked, statement)
    report = _verify(chunked, keys)
    assert not report.ok and said in report.problem, report.problem
