"""``openmyna network verify``'s person-map check in parts, as a large log runs it in worker processes (first
the persons by a hash of the pseudonym, then the map by key prefix), run here inline in the test's
transaction: it must reach the same verdict as the whole map checked in one go, on an honest log and after
each change an insider could make."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import log, person_map, service
from openmyna.network.models import TreeHead

PERSONS = 48


class _Inline(Executor):
    """Runs each task at once, in this thread (so it sees the test's uncommitted log)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _log(db: Session, keys: KeyRing) -> TreeHead:
    """Exchanges of 48 persons (one to three each) recorded by the service, then a signed head."""
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    for i in range(PERSONS):
        for j in range(1 + i % 3):
            service.record_exchange(
                db,
                requester="nenkin",
                provider="131016",
                query={"business": "national_pension_premium", "item": "local_tax", "purpose_reference": f"P-{i}-{j}"},
                citizen=f"person:{i:032x}",
                result="answered",
                reason="",
                asked_at=at,
                answered_at=at + dt.timedelta(seconds=i + j),
            )
    head = log.publish(db, keys=keys)
    assert head is not None and head.map_root is not None
    return head


def _verdicts(db: Session, head: TreeHead, processes: int, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(in parts, whole); the map parts, when they ran, each had persons enough not to fall back to the whole."""
    maps: list[Any] = []

    def run(_url: str, task: str, *args: Any) -> object:
        job = person_map._persons if task == "persons" else person_map._map_part
        result = job(db.connection(), *args)  # type: ignore[arg-type]
        if task == "map":
            maps.append(result)
        return result

    db.expire_all()
    with monkeypatch.context() as patch:
        patch.setattr(person_map, "_in_process", run)
        patch.setattr(person_map, "PARALLEL_FROM", 0)
        started = person_map.start(_Inline(), head, url="", processes=processes)
        assert started is not None
        parts = person_map.check(db, head, url="", started=started)
    assert all(m.persons >= 2 for m in maps)
    with monkeypatch.context() as patch:
        patch.setattr(person_map, "PARALLEL_FROM", 1 << 62)
        whole = person_map.check(db, head, url="")
    return parts, whole


CHANGES: dict[str, tuple[str, dict[str, object]]] = {
    "deepest-node": (
        "UPDATE network_map_nodes SET digest = :zero "
        "WHERE path = (SELECT path FROM network_map_nodes ORDER BY path DESC LIMIT 1)",
        {},
    ),
    "root-node": ("UPDATE network_map_nodes SET digest = :zero WHERE path = :root", {"root": bytes(2)}),
    "node-at-depth-1": (
        "UPDATE network_map_nodes SET digest = :zero WHERE path = "
        "(SELECT path FROM network_map_nodes WHERE length(path) = 3 AND substr(path, 1, 2) = :depth "
        "ORDER BY path LIMIT 1)",
        {"depth": (1).to_bytes(2, "big")},
    ),
    "node-deleted": (
        "DELETE FROM network_map_nodes WHERE path = (SELECT path FROM network_map_nodes ORDER BY path DESC LIMIT 1)",
        {},
    ),
    "stray-deep-node": (
        "INSERT INTO network_map_nodes (path, digest, leaf_key) VALUES (:path, :zero, NULL)",
        {"path": (40).to_bytes(2, "big") + b"\xff" * 5},
    ),
    "stray-short-path": (
        "INSERT INTO network_map_nodes (path, digest, leaf_key) VALUES (:path, :zero, NULL)",
        {"path": (3).to_bytes(2, "big")},
    ),
    "chain-head": ("UPDATE network_person_chains SET head = :zero WHERE citizen = :someone", {}),
    "chain-count": ("UPDATE network_person_chains SET count = count + 1 WHERE citizen = :someone", {}),
    "chain-deleted": ("DELETE FROM network_person_chains WHERE citizen = :someone", {}),
    "chain-added": (
        "INSERT INTO network_person_chains (citizen, count, head) VALUES ('person:ghost', 1, :zero)",
        {},
    ),
    "record-citizen-emptied": (
        "UPDATE network_exchange_records SET citizen = '' WHERE leaf_index = "
        "(SELECT min(leaf_index) FROM network_exchange_records WHERE citizen = :someone)",
        {},
    ),
}


@pytest.mark.parametrize("processes", [2, 4])
def test_an_honest_map_passes_in_parts(
    db: Session, keys: KeyRing, processes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = _log(db, keys)
    assert _verdicts(db, head, processes, monkeypatch) == ("", "")
    assert person_map._persons(db.connection(), head.tree_size, 0, 1, 0).leaves  # the parts ran, with leaves


@pytest.mark.parametrize("processes", [2, 4])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_each_change_is_named_in_parts_as_in_one_go(
    db: Session, keys: KeyRing, change: str, processes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = _log(db, keys)
    statement, params = CHANGES[change]
    db.execute(text(statement), {"zero": bytes(32), "someone": f"person:{7:032x}", **params})
    parts, whole = _verdicts(db, head, processes, monkeypatch)
    assert parts, f"{change} passed the check in parts"
    assert parts == whole
