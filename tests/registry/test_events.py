"""The registry tells higher floors about changes, inside the same transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from openmyna.core import events
from openmyna.registry.events import ResidentFactsChanged, ResidentRemoved
from tests.registry.test_api import BASE, mover


@pytest.fixture
def received() -> Iterator[list[object]]:
    seen: list[object] = []
    events.subscribe(ResidentFactsChanged, lambda _s, e: seen.append(e))
    events.subscribe(ResidentRemoved, lambda _s, e: seen.append(e))
    yield seen
    events.clear()


def test_address_and_name_changes_and_removal_are_published(
    client: TestClient, town_headers: dict[str, str], received: list[object]
) -> None:
    person = client.post(f"{BASE}/residents", json=mover(), headers=town_headers).json()
    assert received == []
    client.post(
        f"{BASE}/residents/{person['id']}/move-within",
        headers=town_headers,
        json={"event_date": "2025-06-01", "address": {"postal_code": "1010021", "block": "1番1号"}},
    )
    client.patch(
        f"{BASE}/residents/{person['id']}",
        headers=town_headers,
        json={"reason": "correction", "event_date": "2025-06-02", "given_name_kana": "ハナ"},
    )
    client.patch(
        f"{BASE}/residents/{person['id']}",
        headers=town_headers,
        json={"reason": "name_change", "event_date": "2025-06-03", "family_name": "鈴木"},
    )
    client.post(f"{BASE}/residents/{person['id']}/death", json={"event_date": "2025-07-01"}, headers=town_headers)
    assert [type(e).__name__ for e in received] == ["ResidentFactsChanged", "ResidentFactsChanged", "ResidentRemoved"]
    assert received[0].changed == frozenset({"address"})  # type: ignore[attr-defined]
    assert received[1].changed == frozenset({"name"})  # type: ignore[attr-defined]
    assert received[2].reason == "death"  # type: ignore[attr-defined]


def test_a_failing_subscriber_rolls_the_change_back(client: TestClient, town_headers: dict[str, str]) -> None:
    person = client.post(f"{BASE}/residents", json=mover(), headers=town_headers).json()

    def refuse(_session: object, _event: object) -> None:
        raise RuntimeError("subscriber failed")

    events.subscribe(ResidentRemoved, refuse)
    try:
        with pytest.raises(RuntimeError):
            client.post(
                f"{BASE}/residents/{person['id']}/death", json={"event_date": "2025-07-01"}, headers=town_headers
            )
    finally:
        events.clear()
    assert client.get(f"{BASE}/residents/{person['id']}", headers=town_headers).json()["status"] == "resident"
