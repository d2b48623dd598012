"""Pages, JSON-LD, bulk downloads and the authenticated activity API, over HTTP on both databases."""

from __future__ import annotations

import csv
import gzip
import io

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from openmyna.corporate.models import Activity
from tests.conftest import bearer_for
from tests.corporate.factories import number


def test_search_page_finds_by_two_characters_and_redirects_a_number(client: TestClient, registry: dict) -> None:
    page = client.get("/corporations", params={"q": "トヨ"})
    assert page.status_code == 200 and "株式会社トヨ商事ホールディングス" in page.text
    assert 'id="result-count">1<' in page.text
    english = client.get("/corporations", params={"q": "Sakura", "lang": "en"})
    assert english.status_code == 200 and "Kind" in english.text
    found = client.get("/corporations", params={"q": f"{registry['toyo'][:1]}-{registry['toyo'][1:]}"},
                       follow_redirects=False)  # fmt: skip
    assert found.status_code == 303 and found.headers["location"] == f"/corporations/{registry['toyo']}"
    bad = client.get("/corporations", params={"q": "1234567890123"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    closed = client.get("/corporations", params={"q": "建設", "status": "closed"})
    assert "富士建設株式会社" in closed.text


def test_corporation_page_has_tabs_history_and_json_ld(client: TestClient, registry: dict) -> None:
    page = client.get(f"/corporations/{registry['toyo']}", params={"tab": "procurement"})
    assert page.status_code == 200
    assert "庁舎清掃業務委託" in page.text and "3,200,000" in page.text
    assert 'aria-current="page">調達 (1)' in page.text
    assert "株式会社トヨ商事</td>" in page.text  # the former name in the history table
    assert "application/ld+json" in page.text
    assert client.get("/corporations/7000012050002").status_code == 404
    assert client.get("/corporations/1234567890123").status_code == 400


def test_json_ld_uses_the_imi_vocabulary(client: TestClient, registry: dict) -> None:
    response = client.get(f"/corporations/{registry['toyo']}/jsonld")
    assert response.headers["content-type"].startswith("application/ld+json")
    node = response.json()
    assert node["@context"] == {"ic": "http://imi.go.jp/ns/core/rdf#"} and node["@type"] == "ic:法人型"
    assert node["ic:ID"]["ic:識別値"] == registry["toyo"]
    assert node["ic:名称"][0]["ic:表記"] == "株式会社トヨ商事ホールディングス"
    assert len(node["ic:関連文書"]) == 5


def test_bulk_download_is_gzip_csv_of_linked_records(client: TestClient, registry: dict) -> None:
    response = client.get("/corporations/downloads/subsidy.csv.gz")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(gzip.decompress(response.content).decode("utf-8"))))
    assert rows[0][:3] == ["corporate_number", "name", "kind"]
    assert sorted(r[0] for r in rows[1:]) == sorted([registry["toyo"], registry["sakura"]])  # not the unlinked one
    assert client.get("/corporations/downloads/patents.csv.gz").status_code == 404


def test_a_municipality_adds_activity_records_through_the_api(
    client: TestClient, town, connection: Connection, registry: dict
) -> None:
    headers = bearer_for(client, "131016", town.private_key_pem)
    body = {"corporate_number": registry["sakura"], "kind": "commendation", "title": "千代田区優良事業者表彰",
            "date": "2026-04-01", "government_departments": "千代田区"}  # fmt: skip
    created = client.post("/api/corporate/activities", json=body, headers=headers)
    assert created.status_code == 201 and created.json()["linked"] is True
    again = client.post("/api/corporate/activities", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["created"] is False
    pending = client.post("/api/corporate/activities", json={**body, "corporate_number": number(777)}, headers=headers)
    assert pending.status_code == 201 and pending.json()["linked"] is False
    before = connection.execute(select(func.count()).select_from(Activity)).scalar_one()
    for bad in ({**body, "corporate_number": "1234567890123"}, {**body, "kind": "grant"}, {**body, "amount": -1},
                {**body, "date": "2026-02-30"}):  # fmt: skip
        response = client.post("/api/corporate/activities", json=bad, headers=headers)
        assert response.status_code in (400, 422) and response.headers["content-type"] == "application/problem+json"
    assert client.post("/api/corporate/activities", json=body).status_code == 401
    assert connection.execute(select(func.count()).select_from(Activity)).scalar_one() == before
