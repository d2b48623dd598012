"""The family register through its API: a town opens and reads the registers whose 本籍 it is; each make
and read is an access event of every member the registry holds; bad input is a 4xx that writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core.audit import AccessEvent
from openmyna.koseki import service
from openmyna.koseki.models import FamilyRegister
from openmyna.registry.models import Resident
from tests.registry.test_api import BASE, newborn

URL = "/api/koseki/registers"


def register_body(resident_id: int | None = None, **overrides: Any) -> dict[str, Any]:
    child = {
        "family_name": "山田",
        "given_name": "陽翔",
        "birth_date": "2025-04-01",
        "sex": "male",
        "relation": "長男",
        "father": "山田　太郎",
        "mother": "山田　花子",
        "resident_id": resident_id,
        "events": [{"kind": "出生", "date": "2025-04-01", "detail": "東京都千代田区で出生"}],
    }
    head = {"family_name": "山田", "given_name": "太郎", "birth_date": "1986-03-03", "sex": "male", "relation": "長男"}
    body = {
        "honseki": "東京都千代田区九段南一丁目2番",
        "head_name": "山田　太郎",
        "made_on": "2015-03-20",
        "made_reason": "婚姻",
        "members": [head, child],
    }
    return {**body, **overrides}


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_a_town_opens_and_reads_a_register_and_the_member_sees_both(
    client: TestClient, town_headers: dict[str, str], db: Session
) -> None:
    child = client.post(f"{BASE}/residents", json=newborn(), headers=town_headers).json()["id"]
    made = client.post(URL, json=register_body(child), headers=town_headers)
    assert made.status_code == 201, made.text
    register = made.json()
    assert register["honseki_municipality_code"] == "131016" and [m["position"] for m in register["members"]] == [1, 2]
    assert register["members"][1]["resident_id"] == child and register["members"][1]["events"][0]["kind"] == "出生"
    read = client.get(f"{URL}/{register['id']}", headers=town_headers)
    assert read.status_code == 200 and read.json() == register
    subject = db.scalar(select(Resident.pseudonym).where(Resident.id == child))
    actions = [e.action for e in db.scalars(select(AccessEvent).where(AccessEvent.subject == subject))]
    assert actions.count("koseki.register.make") == 1 and actions.count("koseki.register.read") == 1
    again = client.post(URL, json=register_body(child), headers=town_headers)  # one current register a person
    assert again.status_code == 409 and again.json()["type"].endswith("koseki-already-registered")


@pytest.mark.parametrize(
    "overrides, status, slug",
    [
        ({"members": []}, 422, "validation"),
        ({"honseki": "a\x00b"}, 422, "validation"),
        ({"made_on": "2015-02-30"}, 422, "validation"),
        ({"members": [{"family_name": "山田"}]}, 422, "validation"),
        (
            {"members": [{**register_body()["members"][1], "events": [{"kind": "x", "date": "2025-04-01"}]}]},
            422,
            "validation",
        ),
        ({"members": [{**register_body()["members"][1], "resident_id": 2**31 - 1}]}, 404, "koseki-unknown-resident"),
    ],
)
def test_bad_registers_are_4xx_and_write_nothing(
    client: TestClient, town_headers: dict[str, str], db: Session, overrides: dict[str, Any], status: int, slug: str
) -> None:
    answer = client.post(URL, json=register_body(**overrides), headers=town_headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json") and slug in answer.json()["type"]
    assert count(db, FamilyRegister) == 0


def test_another_towns_register_is_not_found_here_and_no_token_is_401(
    client: TestClient, town_headers: dict[str, str], db: Session
) -> None:
    kept_elsewhere = service.make_register(
        db,
        honseki_municipality_code="141046",
        honseki="神奈川県横浜市中区山下町10番地",
        head_name="佐々木　美咲",
        made_on=dt.date(2018, 9, 14),
        made_reason="離婚",
        members=[service.NewMember("佐々木", "美咲", dt.date(1990, 2, 14), "female", "長女")],
    )
    db.commit()
    assert client.get(f"{URL}/{kept_elsewhere.id}", headers=town_headers).status_code == 404
    assert client.get(f"{URL}/{kept_elsewhere.id}").status_code == 401
