"""The NTA Web-API v4-compatible endpoints over HTTP: the three formats, header line, history, pages, errors."""

from __future__ import annotations

import csv
import io
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from openmyna.corporate import nta_api
from openmyna.corporate.codes import NTA_FIELDS


def token(headers: dict[str, str]) -> str:
    return headers["X-hojinInfo-api-token"]


def csv_rows(body: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode(encoding))))


def test_num_as_unicode_csv_with_header_line(client: TestClient, api_headers: dict, registry: dict) -> None:
    numbers = f"{registry['toyo']},{registry['sakura']}"
    response = client.get("/4/num", params={"id": token(api_headers), "number": numbers, "type": "02"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    head, *records = csv_rows(response.content, "utf-8")
    assert head == ["2024-06-01", "2", "1", "1"]
    assert [len(r) for r in records] == [30, 30]
    assert [r[1] for r in records] == [registry["toyo"], registry["sakura"]]
    assert (
        records[0][6] == "株式会社トヨ商事ホールディングス" and records[0][2] == "11" and records[0][4] == "2024-06-01"
    )


def test_num_with_history_as_shift_jis(client: TestClient, api_headers: dict, registry: dict) -> None:
    response = client.get("/4/num", params={"id": token(api_headers), "number": registry["toyo"], "type": "01",
                                            "history": "1"})  # fmt: skip
    assert "Shift_JIS" in response.headers["content-type"]
    head, *records = csv_rows(response.content, "cp932")
    assert head[1] == "2"
    assert [(r[2], r[6]) for r in records] == [("01", "株式会社トヨ商事"), ("11", "株式会社トヨ商事ホールディングス")]


def test_name_as_xml(client: TestClient, api_headers: dict, registry: dict) -> None:
    response = client.get("/4/name", params={"id": token(api_headers), "name": "サクラ", "mode": "2", "type": "12"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "corporations"
    assert [child.tag for child in root][:4] == ["lastUpdateDate", "count", "divideNumber", "divideSize"]
    (corporation,) = root.findall("corporation")
    assert [e.tag for e in corporation] == list(NTA_FIELDS)
    assert corporation.findtext("corporateNumber") == registry["sakura"]
    prefix = client.get("/4/name", params={"id": token(api_headers), "name": "サクラ", "mode": "1", "type": "02"})
    assert csv_rows(prefix.content, "utf-8")[0][1] == "1"
    closed = client.get("/4/name", params={"id": token(api_headers), "name": "建設", "mode": "2", "close": "0",
                                           "type": "02"})  # fmt: skip
    assert csv_rows(closed.content, "utf-8")[0][1] == "0"


def test_diff_returns_updates_in_the_period_with_pages(
    client: TestClient, api_headers: dict, registry: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = {"id": token(api_headers), "from": "2024-03-01", "to": "2024-04-15", "type": "02"}
    head, *records = csv_rows(client.get("/4/diff", params=params).content, "utf-8")
    assert head[1] == "3" and {r[1] for r in records} == {registry["toyo"], registry["sakura"], registry["fuji"]}
    tokyo = client.get("/4/diff", params={**params, "address": "13101"})
    assert csv_rows(tokyo.content, "utf-8")[0][1] == "2"
    monkeypatch.setattr(nta_api, "PAGE_SIZE", 2)
    first = csv_rows(client.get("/4/diff", params=params).content, "utf-8")
    second = csv_rows(client.get("/4/diff", params={**params, "divide": "2"}).content, "utf-8")
    assert first[0][2:] == ["1", "2"] and len(first) == 3
    assert second[0][2:] == ["2", "2"] and len(second) == 2 and second[1][0] == "3"


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/4/num", {"number": "1234567890123", "type": "02"}, 400, "051"),
        ("/4/num", {"number": ",".join(["7000012050002"] * 11), "type": "02"}, 400, "050"),
        ("/4/num", {"number": "7000012050002", "type": "03"}, 400, "002"),
        ("/4/num", {"number": "7000012050002", "type": "02", "history": "2"}, 400, "052"),
        ("/4/num", {"number": "7000012050002", "type": "02", "colour": "1"}, 400, "001"),
        ("/4/diff", {"from": "2024-01-01", "to": "2024-03-01", "type": "02"}, 400, "060"),
        ("/4/diff", {"from": "2024-02-30", "to": "2024-03-01", "type": "02"}, 400, "021"),
        ("/4/diff", {"from": "2024-02-01", "to": "2024-03-01", "type": "02", "address": "99"}, 400, "030"),
        ("/4/diff", {"from": "2024-02-01", "to": "2024-03-01", "type": "02", "kind": "05"}, 400, "040"),
        ("/4/diff", {"from": "2024-02-01", "to": "2024-03-01", "type": "02", "divide": "0"}, 400, "010"),
        ("/4/name", {"type": "02"}, 400, "070"),
        ("/4/name", {"name": "トヨ", "mode": "3", "type": "02"}, 400, "071"),
    ],
)
def test_bad_requests_are_answered_with_code_and_message(
    client: TestClient, api_headers: dict, path: str, params: dict, status: int, code: str
) -> None:
    response = client.get(path, params={"id": token(api_headers), **params})
    assert response.status_code == status
    assert response.text.split(",")[0] == code


def test_unknown_application_id_is_404_and_xml_errors_are_xml(client: TestClient, api_headers: dict) -> None:
    response = client.get("/4/num", params={"id": "unknown", "number": "7000012050002", "type": "12"})
    assert response.status_code == 404
    assert ElementTree.fromstring(response.content).findtext("code") == "003"
