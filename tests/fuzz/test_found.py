"""Server errors the fuzz harness found, each pinned by the request that caused it, on both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fuzz.world import TOWN, World

PROBLEM = "application/problem+json"


def test_a_persons_token_on_the_agency_query_is_refused_and_kept_as_theirs(
    client: TestClient, fuzz_world: World
) -> None:
    citizen = fuzz_world.headers["citizen"]
    query = {"business": "national_pension_premium", "provider": TOWN, "item": "local_tax", "subject_code": "x"}
    reply = client.post("/api/network/queries", json=query, headers=citizen)
    assert reply.status_code == 403 and reply.headers["content-type"] == PROBLEM
    history = client.get("/api/network/history", headers=citizen).json()
    refused = [item for item in history["items"] if item["result"] == "refused"]
    assert [(r["requester"]["code"], r["provider"]["code"]) for r in refused] == [("person", TOWN)]


@pytest.mark.parametrize(
    "query", ["to=0001-01-01", "from=0001-01-01&to=0001-01-03", "to=9999-12-31", "from=9999-12-31"]
)
def test_card_statistics_refuse_days_outside_the_calendar(client: TestClient, query: str) -> None:
    reply = client.get(f"/api/card/stats?{query}")  # a week before 0001-01-01, or a holiday check past 9999
    assert reply.status_code == 400 and reply.headers["content-type"] == PROBLEM
    assert client.get("/api/card/stats?from=2025-01-01&to=2025-01-07").status_code == 200


@pytest.mark.parametrize("kind", ["auto", "my_number", "corporate_number", "local_government_code", "resident_code"])
@pytest.mark.parametrize("length", [6, 11, 12, 13])
def test_digits_that_are_not_ascii_are_no_number(client: TestClient, kind: str, length: int) -> None:
    reply = client.post("/api/numbers/check", json={"number": "¹" * length, "kind": kind})  # "¹".isdigit() is true
    assert reply.status_code == 200 and reply.json()["valid"] is False


def test_corporate_apis_refuse_superscript_integers(client: TestClient, fuzz_world: World) -> None:
    gbiz = client.get(
        "/hojin/v2/hojin", params={"name": "トヨ", "capital_stock_from": "¹"}, headers=fuzz_world.headers["corporate"]
    )
    assert gbiz.status_code == 400 and gbiz.json()["errors"][0]["item"] == "capital_stock_from"
    nta = client.get("/4/name", params={"id": fuzz_world.corporate_token, "type": "02", "name": "トヨ", "divide": "¹"})
    assert nta.status_code == 400 and nta.text.startswith("010,")
