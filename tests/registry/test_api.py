"""The registry through the HTTP layer: each rule, and each bad input as a 4xx that writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core.audit import AccessEvent
from openmyna.registry.models import Resident

BASE = "/api/registry"


def newborn(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "birth",
        "family_name": "山田",
        "given_name": "太郎",
        "family_name_kana": "ﾔﾏﾀﾞ",
        "given_name_kana": "たろう",
        "birth_date": "2024-04-01",
        "sex": "male",
        "event_date": "2024-04-01",
        "address": {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "5番1号"},
    }
    body.update(overrides)
    return body


def mover(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": "move_in",
        "given_name": "花子",
        "given_name_kana": "ハナコ",
        "birth_date": "1990-02-03",
        "sex": "female",
        "event_date": "2025-04-01",
        "my_number": "6214-9832-0257",
        "previous_address": "大阪府大阪市北区梅田一丁目1番1号",
    }
    return newborn(**{**fields, **overrides})


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def assert_problem(response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    if slug:
        assert body["type"].endswith("/" + slug)
    return body


def test_birth_issues_a_masked_number_and_normalises_kana(client: TestClient, town_headers) -> None:
    response = client.post(f"{BASE}/residents", json=newborn(), headers=town_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["family_name_kana"] == "ヤマダ" and body["given_name_kana"] == "タロウ"
    assert body["my_number"].startswith("**** **** ")
    assert body["address"] == "東京都千代田区飯田橋三丁目5番1号"
    assert body["relationship"] == "head"
    assert [v["event"] for v in body["history"]] == ["birth"]
    assert len(body["resident_code"]) == 11


def test_move_in_keeps_the_number_and_lookup_finds_it(client: TestClient, town_headers) -> None:
    created = client.post(f"{BASE}/residents", json=mover(), headers=town_headers).json()
    assert created["my_number"] == "**** **** 0257"
    found = client.post(f"{BASE}/residents/lookup", json={"my_number": "621498320257"}, headers=town_headers)
    assert found.status_code == 200
    assert found.json()["id"] == created["id"]
    missing = client.post(f"{BASE}/residents/lookup", json={"my_number": "123456789018"}, headers=town_headers)
    assert_problem(missing, 404, "resident-not-found")


def test_duplicate_my_number_is_a_conflict_and_writes_nothing(client: TestClient, town_headers, db: Session) -> None:
    client.post(f"{BASE}/residents", json=mover(), headers=town_headers)
    before = (count(db, Resident), count(db, AccessEvent))
    again = client.post(f"{BASE}/residents", json=mover(given_name="別人"), headers=town_headers)
    assert_problem(again, 409, "duplicate-my-number")
    assert (count(db, Resident), count(db, AccessEvent)) == before


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        (mover(my_number="6214-9832-0258"), 400, "invalid-number"),
        (newborn(birth_date="2024-02-30"), 422, "validation"),
        (newborn(birth_date="2999-01-01", event_date="2999-01-01"), 400, "impossible-date"),
        (newborn(event_date="2020-01-01"), 400, "impossible-date"),
        (newborn(address={"postal_code": "530-0001", "block": "1番"}), 400, "unknown-address"),
        (newborn(family_name_kana="Yamada"), 400, "invalid-kana"),
        (newborn(my_number="621498320257"), 400, "invalid-input"),
        (newborn(household={"household_id": 999999, "relationship": "child"}), 404, "not-found"),
        (newborn(unexpected="field"), 422, "validation"),
        (newborn(address=None), 400, "invalid-input"),
    ],
    ids=[
        "bad-check-digit",
        "feb-30",
        "future",
        "event-before-birth",
        "not-in-town",
        "romaji-kana",
        "newborn-with-number",
        "unknown-household",
        "unknown-field",
        "no-address",
    ],
)
def test_bad_registrations_are_4xx_and_write_nothing(
    client: TestClient, town_headers, db: Session, body: dict[str, Any], status: int, slug: str
) -> None:
    before = count(db, Resident)
    assert_problem(client.post(f"{BASE}/residents", json=body, headers=town_headers), status, slug)
    assert count(db, Resident) == before


def test_garbage_bodies_are_4xx(client: TestClient, town_headers) -> None:
    for payload in (b"", b"{", b"[]", b"null", b'{"kind": "birth"}'):
        response = client.post(
            f"{BASE}/residents", content=payload, headers={**town_headers, "content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, payload


def test_household_join_move_out_and_death(client: TestClient, town_headers) -> None:
    head = client.post(f"{BASE}/residents", json=mover(), headers=town_headers).json()
    child = client.post(
        f"{BASE}/residents",
        json=newborn(address=None, household={"household_id": head["household_id"], "relationship": "child"}),
        headers=town_headers,
    ).json()
    assert child["household_id"] == head["household_id"]
    assert child["address"] == head["address"]
    household = client.get(f"{BASE}/households/{head['household_id']}", headers=town_headers).json()
    assert household["head_id"] == head["id"] and len(household["members"]) == 2

    second_head = client.post(
        f"{BASE}/residents",
        json=newborn(address=None, household={"household_id": head["household_id"], "relationship": "head"}),
        headers=town_headers,
    )
    assert_problem(second_head, 409)

    alone = client.post(
        f"{BASE}/residents/{head['id']}/move-out",
        json={"event_date": "2025-06-01", "destination": "大阪府大阪市北区梅田一丁目1番1号"},
        headers=town_headers,
    )
    assert_problem(alone, 409)  # the head cannot leave a household with members behind

    moved = client.post(
        f"{BASE}/residents/{head['id']}/move-out",
        json={"event_date": "2025-06-01", "destination": "大阪府大阪市北区梅田一丁目1番1号", "with_household": True},
        headers=town_headers,
    ).json()
    assert moved["status"] == "moved_out"
    assert moved["destination_address"].startswith("大阪府")
    child_after = client.get(f"{BASE}/residents/{child['id']}", headers=town_headers).json()
    assert child_after["status"] == "moved_out"

    dead_move = client.post(
        f"{BASE}/residents/{head['id']}/death", json={"event_date": "2025-07-01"}, headers=town_headers
    )
    assert_problem(dead_move, 409, "not-a-resident")


def test_death_closes_the_record_and_later_moves_are_refused(client: TestClient, town_headers, db: Session) -> None:
    person = client.post(f"{BASE}/residents", json=mover(), headers=town_headers).json()
    died = client.post(
        f"{BASE}/residents/{person['id']}/death", json={"event_date": "2025-05-01"}, headers=town_headers
    ).json()
    assert died["status"] == "deceased" and died["removed_on"] == "2025-05-01"
    before = count(db, AccessEvent)
    refused = client.post(
        f"{BASE}/residents/{person['id']}/move-within",
        json={"event_date": "2025-06-01", "address": {"postal_code": "1010021", "block": "1番1号"}},
        headers=town_headers,
    )
    body = assert_problem(refused, 409, "not-a-resident")
    assert "died" in body["detail"]
    assert count(db, AccessEvent) == before
    # A dead person's number is never anybody else's.
    again = client.post(f"{BASE}/residents", json=mover(), headers=town_headers)
    assert "died" in assert_problem(again, 409, "duplicate-my-number")["detail"]


def test_a_resident_who_moved_out_can_move_back_with_the_same_number(client: TestClient, town_headers) -> None:
    person = client.post(f"{BASE}/residents", json=mover(), headers=town_headers).json()
    client.post(
        f"{BASE}/residents/{person['id']}/move-out",
        json={"event_date": "2025-05-01", "destination": "大阪府大阪市北区梅田一丁目1番1号"},
        headers=town_headers,
    )
    back = client.post(f"{BASE}/residents", json=mover(event_date="2025-09-01"), headers=town_headers)
    assert back.status_code == 201, back.text
    found = client.post(f"{BASE}/residents/lookup", json={"my_number": "621498320257"}, headers=town_headers).json()
    assert found["id"] == back.json()["id"] and found["status"] == "resident"


def test_move_within_name_change_history_and_as_of(client: TestClient, town_headers) -> None:
    person = client.post(f"{BASE}/residents", json=mover(), headers=town_headers).json()
    moved = client.post(
        f"{BASE}/residents/{person['id']}/move-within",
        json={
            "event_date": "2025-06-01",
            "address": {"postal_code": "101-0021", "town": "外神田二丁目", "block": "8番3号"},
        },
        headers=town_headers,
    ).json()
    assert moved["address"] == "東京都千代田区外神田二丁目8番3号"
    assert moved["previous_address"] == "東京都千代田区飯田橋三丁目5番1号"
    assert moved["address_since"] == "2025-06-01"
    renamed = client.patch(
        f"{BASE}/residents/{person['id']}",
        json={
            "reason": "name_change",
            "event_date": "2025-08-01",
            "family_name": "鈴木",
            "family_name_kana": "スズキ",
            "former_family_name": "山田",
            "former_family_name_kana": "ヤマダ",
        },
        headers=town_headers,
    ).json()
    assert renamed["display_name"] == "鈴木 花子（山田）"
    assert [v["event"] for v in renamed["history"]] == ["move_in", "move_within", "name_change"]
    assert renamed["history"][0]["valid_to"] == "2025-06-01"

    def as_of(day: str):
        return client.get(f"{BASE}/residents/{person['id']}/as-of/{day}", headers=town_headers)

    assert as_of("2025-05-31").json()["record"]["address"].startswith("東京都千代田区飯田橋")
    assert as_of("2025-07-01").json()["record"]["address"].startswith("東京都千代田区外神田")
    assert as_of("2025-09-01").json()["record"]["family_name"] == "鈴木"
    assert_problem(as_of("2020-01-01"), 409, "not-a-resident")
    assert_problem(as_of("2025-13-01"), 422)

    backdated = client.patch(
        f"{BASE}/residents/{person['id']}",
        json={"reason": "correction", "event_date": "2025-01-01", "given_name": "華子"},
        headers=town_headers,
    )
    assert_problem(backdated, 400, "impossible-date")
    empty = client.patch(
        f"{BASE}/residents/{person['id']}",
        json={"reason": "correction", "event_date": "2025-09-01"},
        headers=town_headers,
    )
    assert_problem(empty, 400)


def test_search_by_name_kana_and_birth_date(client: TestClient, town_headers) -> None:
    client.post(f"{BASE}/residents", json=mover(), headers=town_headers)
    client.post(f"{BASE}/residents", json=newborn(), headers=town_headers)

    def search(**params: str) -> dict[str, Any]:
        response = client.get(f"{BASE}/residents", params=params, headers=town_headers)
        assert response.status_code == 200, response.text
        return response.json()

    assert search(name="山田")["total"] == 2
    assert search(name="山田 花")["total"] == 1
    assert search(kana="ﾔﾏﾀﾞﾊﾅ")["total"] == 1
    assert search(kana="やまだ")["total"] == 2
    assert search(birth_date="1990-02-03")["items"][0]["given_name"] == "花子"
    assert search(name="存在しない")["total"] == 0
    assert_problem(client.get(f"{BASE}/residents", headers=town_headers), 400)
    assert_problem(client.get(f"{BASE}/residents", params={"limit": 1000, "name": "山"}, headers=town_headers), 422)
    assert_problem(client.get(f"{BASE}/residents", params={"kana": "abc"}, headers=town_headers), 400, "invalid-kana")


def test_reads_become_access_events_for_the_person(client: TestClient, town_headers, db: Session) -> None:
    person = client.post(f"{BASE}/residents", json=mover(), headers=town_headers).json()
    client.get(f"{BASE}/residents/{person['id']}", headers=town_headers)
    client.post(f"{BASE}/residents/lookup", json={"my_number": "621498320257"}, headers=town_headers)
    resident = db.get(Resident, person["id"])
    assert resident is not None
    from openmyna.core.audit import events_for
    from openmyna.registry.service import subject_of

    actions = [e.action for e in events_for(db, subject_of(resident))]
    assert actions[:4] == [
        "registry.lookup_by_my_number",
        "registry.read",
        "network.code_issued",  # the town's code and local id, issued on registration
        "registry.register:move_in",
    ]
    assert all(e.actor_org == "131016" for e in events_for(db, subject_of(resident)))


def test_unknown_ids_are_404(client: TestClient, town_headers) -> None:
    assert_problem(client.get(f"{BASE}/residents/424242", headers=town_headers), 404, "resident-not-found")
    assert_problem(client.get(f"{BASE}/households/424242", headers=town_headers), 404)
    assert_problem(client.get(f"{BASE}/residents/not-a-number", headers=town_headers), 422)


def test_another_towns_token_may_not_read_or_write_this_towns_registry_or_cards(
    client: TestClient, db: Session, keys, town_headers: dict[str, str]
) -> None:
    """Sapporo's system holds the registry and card scopes for its own records, not for this town's; J-LIS reads."""
    from openmyna.orgs import service as orgs
    from tests.conftest import bearer_for

    other = orgs.add_organisation(db, keys=keys, code="011002", name="札幌市中央区", kind="municipality")
    db.commit()
    sapporo = bearer_for(client, "011002", other.private_key_pem)
    person = client.post("/api/registry/residents", json=newborn(), headers=town_headers)
    assert person.status_code == 201, person.text
    resident_id = person.json()["id"]
    card = client.post("/api/cards", json={"resident_id": resident_id}, headers=town_headers)
    assert card.status_code == 201, card.text
    before = (
        db.scalar(select(func.count()).select_from(Resident)),
        client.get(f"/api/cards/{card.json()['id']}", headers=town_headers).json(),
    )

    writes = [
        ("/api/registry/residents", newborn(given_name="次郎")),
        (f"/api/registry/residents/{resident_id}/death", {"date": "2026-01-01"}),
        (f"/api/cards/{card.json()['id']}/revoke", {}),
        ("/api/cards", {"resident_id": resident_id}),
    ]
    for path, body in writes:
        assert_problem(client.post(path, json=body, headers=sapporo), 403)
    card_path = f"/api/cards/{card.json()['id']}"
    for path in (f"/api/registry/residents/{resident_id}", "/api/registry/residents?name=山田", card_path):
        assert_problem(client.get(path, headers=sapporo), 403)  # its registry:read and card:read are for its own
    jlis = orgs.add_organisation(db, keys=keys, code="jlis-reader", name="J-LIS", kind="platform_operator")
    db.commit()
    reader = bearer_for(client, "jlis-reader", jlis.private_key_pem)
    assert client.get(f"/api/registry/residents/{resident_id}", headers=reader).status_code == 200  # not a town
    after = (
        db.scalar(select(func.count()).select_from(Resident)),
        client.get(f"/api/cards/{card.json()['id']}", headers=town_headers).json(),
    )
    assert after == before
