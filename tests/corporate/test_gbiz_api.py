"""The gBizINFO v2-compatible API over real HTTP: paths, envelope, field names and JSON types of DOMAIN.md §4."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from openmyna.corporate import service
from openmyna.corporate.models import Activity, Corporation

SEARCH_ITEM = {
    "corporate_number": str,
    "name": str,
    "name_en": (str, type(None)),
    "location": str,
    "postal_code": str,
    "status": str,
    "update_date": str,
    "number_of_activity": str,
}
DETAIL_KEYS = {
    "aggregated_year", "business_items", "business_summary", "capital_stock", "close_cause", "close_date",
    "company_size_male", "company_size_female", "company_url", "corporate_number", "date_of_establishment",
    "employee_number", "founding_year", "industry", "kana", "kind", "location", "name", "name_en", "postal_code",
    "process", "qualification_grade", "representative_name", "status", "update_date", "certification",
    "commendation", "corporation-info", "finance", "patent", "procurement", "subsidy", "workplace_info",
}  # fmt: skip
ISO_JST = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00:00\+09:00$")


def assert_envelope(body: dict) -> None:
    assert set(body) >= {"id", "message", "errors", "hojin-infos"}
    assert isinstance(body["hojin-infos"], list)


def assert_search_item(item: dict) -> None:
    assert set(item) == set(SEARCH_ITEM)
    for key, kind in SEARCH_ITEM.items():
        assert isinstance(item[key], kind), key
    assert re.fullmatch(r"\d{13}", item["corporate_number"])
    assert re.fullmatch(r"\d{7}", item["postal_code"]) and ISO_JST.match(item["update_date"])
    assert item["number_of_activity"].isdigit()


def test_search_by_name_answers_gbizinfo_items(client: TestClient, api_headers: dict, registry: dict) -> None:
    response = client.get("/hojin/v2/hojin", params={"name": "トヨ"}, headers=api_headers)
    assert response.status_code == 200
    body = response.json()
    assert_envelope(body)
    (item,) = body["hojin-infos"]
    assert_search_item(item)
    assert item["corporate_number"] == registry["toyo"]
    assert (item["name"], item["name_en"], item["status"]) == (
        "株式会社トヨ商事ホールディングス",
        "Toyo Shoji Holdings",
        "-",
    )
    assert item["location"] == "東京都千代田区霞が関3丁目1番1号" and item["number_of_activity"] == "5"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "ｻｸﾗ"}, {"sakura"}),
        ({"name": "建設", "exist_flg": "false"}, {"fuji"}),
        ({"name": "建設", "exist_flg": "true"}, set()),
        ({"prefecture": "27"}, {"sakura"}),
        ({"prefecture": "13", "city": "101"}, {"toyo", "fuji"}),
        ({"corporate_type": "302"}, {"sakura"}),
        ({"subsidy_amount_from": "50000000"}, {"sakura"}),
        ({"procurement_amount_to": "5000000"}, {"toyo"}),
        ({"source": "2"}, {"toyo"}),
        ({"ministry": "中小企業庁"}, {"sakura"}),
        ({"subsidy": "IT導入"}, {"toyo"}),
        ({"capital_stock_from": "1"}, set()),  # no financial data is held: nothing matches
        ({"patent": "x"}, set()),
    ],
)
def test_search_filters(client: TestClient, api_headers: dict, registry: dict, params: dict, expected: set) -> None:
    response = client.get("/hojin/v2/hojin", params=params, headers=api_headers)
    assert response.status_code == 200, response.text
    found = {item["corporate_number"] for item in response.json()["hojin-infos"]}
    assert found == {registry[k] for k in expected}


def test_detail_has_every_field_with_its_type(client: TestClient, api_headers: dict, registry: dict) -> None:
    response = client.get(f"/hojin/v2/hojin/{registry['toyo']}", headers=api_headers)
    assert response.status_code == 200
    (item,) = response.json()["hojin-infos"]
    assert set(item) == DETAIL_KEYS
    assert item["corporate_number"] == registry["toyo"] and item["kind"] == "301" and item["process"] == "11"
    assert item["kana"] == "トヨショウジホールディングス" and isinstance(item["business_items"], list)
    assert item["capital_stock"] is None and item["employee_number"] is None and item["founding_year"] is None
    (subsidy,) = item["subsidy"]
    assert subsidy == {"title": "IT導入補助金", "amount": "1500000", "date_of_approval": "2024-06-01T00:00:00+09:00",
                       "government_departments": "経済産業省", "target": "株式会社トヨ商事"}  # fmt: skip
    (procurement,) = item["procurement"]
    assert procurement["amount"] == 3200000 and isinstance(procurement["amount"], int)
    assert set(procurement) == {"title", "amount", "date_of_order", "government_departments", "note"}
    assert set(item["certification"][0]) == {
        "title",
        "category",
        "date_of_approval",
        "government_departments",
        "target",
    }
    assert set(item["commendation"][0]) == {
        "title", "category", "date_of_commendation", "government_departments", "target", "note"
    }  # fmt: skip
    assert item["finance"] == {} and item["workplace_info"] == {} and item["patent"] == []


def test_a_merged_corporation_shows_its_closing(client: TestClient, api_headers: dict, registry: dict) -> None:
    (item,) = client.get(f"/hojin/v2/hojin/{registry['fuji']}", headers=api_headers).json()["hojin-infos"]
    assert (item["status"], item["process"], item["close_cause"]) == ("閉鎖", "71", "11")
    assert item["close_date"] == "2024-03-31T00:00:00+09:00"


@pytest.mark.parametrize("resource", ["certification", "commendation", "corporation", "finance", "patent",
                                      "procurement", "subsidy", "workplace"])  # fmt: skip
def test_each_sub_resource(client: TestClient, api_headers: dict, registry: dict, resource: str) -> None:
    response = client.get(f"/hojin/v2/hojin/{registry['toyo']}/{resource}", headers=api_headers)
    assert response.status_code == 200
    (item,) = response.json()["hojin-infos"]
    key = {"corporation": "corporation-info", "workplace": "workplace_info"}.get(resource, resource)
    assert key in item and not ({"subsidy", "procurement", "certification", "commendation"} - {key}) <= set(item)
    if resource in ("subsidy", "procurement", "certification", "commendation"):
        assert len(item[key]) == 1


def test_update_info_totals_are_strings(client: TestClient, api_headers: dict, registry: dict) -> None:
    response = client.get("/hojin/v2/hojin/updateInfo", params={"from": "20240501", "to": "20240630"},
                          headers=api_headers)  # fmt: skip
    body = response.json()
    assert response.status_code == 200
    assert (body["totalCount"], body["totalPage"], body["pageNumber"]) == ("1", "1", "1")
    assert [i["corporate_number"] for i in body["hojin-infos"]] == [registry["toyo"]]
    today = client.get("/hojin/v2/hojin/updateInfo/subsidy", params={"from": "20000101", "to": "20991231"},
                       headers=api_headers).json()  # fmt: skip
    assert today["totalCount"] == "2" and {i["corporate_number"] for i in today["hojin-infos"]} == {
        registry["toyo"],
        registry["sakura"],
    }


@pytest.mark.parametrize(
    ("path", "params", "item"),
    [
        ("/hojin/v2/hojin", {"name": "トヨ", "colour": "red"}, "colour"),
        ("/hojin/v2/hojin", {"name": "トヨ", "page": "11"}, "page"),
        ("/hojin/v2/hojin", {"name": "トヨ", "page": "0"}, "page"),
        ("/hojin/v2/hojin", {"name": "トヨ", "limit": "5001"}, "limit"),
        ("/hojin/v2/hojin", {"name": "トヨ", "limit": "ten"}, "limit"),
        ("/hojin/v2/hojin", {"corporate_number": "1234567890123"}, "corporate_number"),
        ("/hojin/v2/hojin", {"prefecture": "48"}, "prefecture"),
        ("/hojin/v2/hojin", {"city": "101"}, "city"),
        ("/hojin/v2/hojin", {"subsidy_amount_from": "10", "subsidy_amount_to": "5"}, "subsidy_amount_from"),
        ("/hojin/v2/hojin", {"exist_flg": "yes"}, "exist_flg"),
        ("/hojin/v2/hojin", {"source": "9"}, "source"),
        ("/hojin/v2/hojin", {"name": "x" * 151}, "name"),
        ("/hojin/v2/hojin", {}, "-"),
        ("/hojin/v2/hojin/updateInfo", {"from": "20240230", "to": "20240301"}, "from"),
        ("/hojin/v2/hojin/updateInfo", {"from": "20240301", "to": "20240201"}, "from"),
        ("/hojin/v2/hojin/updateInfo", {"to": "20240201"}, "from"),
        ("/hojin/v2/hojin/7000012050002/stocks", {}, "resource"),
        ("/hojin/v2/hojin/1234567890123", {}, "corporate_number"),
        ("/hojin/v2/hojin/7000012050002", {"x": "1"}, "x"),
    ],
)
def test_bad_parameters_are_400_with_errors(
    client: TestClient, api_headers: dict, connection: Connection, path: str, params: dict, item: str
) -> None:
    before = connection.execute(select(func.count()).select_from(Corporation)).scalar_one()
    response = client.get(path, params=params, headers=api_headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert_envelope(body)
    assert item in [e["item"] for e in body["errors"]] and all(set(e) == {"item", "message"} for e in body["errors"])
    assert body["status"] == 400 and body["type"].startswith("https://")
    assert connection.execute(select(func.count()).select_from(Corporation)).scalar_one() == before
    assert connection.execute(select(func.count()).select_from(Activity)).scalar_one() == 7


def test_unknown_number_is_404(client: TestClient, api_headers: dict) -> None:
    response = client.get("/hojin/v2/hojin/7000012050002", headers=api_headers)
    assert response.status_code == 404 and response.json()["message"] == "404 - Not Found."
    assert client.get("/hojin/v2/hojin/7000012050002/subsidy", headers=api_headers).status_code == 404


def test_tokens_are_required_and_checked(client: TestClient, api_headers: dict) -> None:
    assert client.get("/hojin/v2/hojin", params={"name": "トヨ"}).status_code == 401
    wrong = client.get("/hojin/v2/hojin", params={"name": "トヨ"}, headers={"X-hojinInfo-api-token": "nope"})
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["message"]


def test_past_the_rate_limit_is_429_with_retry_after(client: TestClient, api_headers: dict) -> None:
    client.app.state.corporate_rate_limiter = service.RateLimiter(3)
    statuses = [
        client.get("/hojin/v2/hojin", params={"name": "トヨ"}, headers=api_headers).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/hojin/v2/hojin", params={"name": "トヨ"}, headers=api_headers)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.json()["message"] == "429 - Too Many Requests."
