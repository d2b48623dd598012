"""The OpenAPI document itself: every reference resolves, errors are declared as sent, instants carry an offset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from tests.fuzz.world import TOWN, World

PROBLEM = "application/problem+json"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")  # RFC 6901
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve (no {part!r})"
        node = node[part]
    return node


def test_every_reference_in_the_document_resolves(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    refs = set(_refs(document))
    assert len(refs) > 40  # the walk saw the document's references, not nothing
    for ref in sorted(refs):
        assert isinstance(_resolve(document, ref), dict | bool), ref
    body = document["paths"]["/api/network/queries"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"business", "provider", "item", "subject_code"} <= set(body["properties"])  # once a dangling $ref


def test_every_operation_declares_its_client_errors_as_they_are_sent(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's body, never sent here
    operations = [(path, op) for path, ops in document["paths"].items() for op in ops.values()]
    for path, operation in operations:
        responses = operation["responses"]
        assert "4XX" in responses, path
        if path.startswith(("/hojin/", "/4/")):
            continue  # gBizINFO's envelope and the NTA's CSV/XML, each declared by its router
        assert set(responses["4XX"]["content"]) == {PROBLEM}, path
        if "422" in responses:
            shapes = [shape["$ref"] for shape in responses["422"]["content"][PROBLEM]["schema"]["anyOf"]]
            assert shapes[0].endswith("/ValidationProblem"), path  # validation errors, then the idempotency answer
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), path
    sent = client.post("/api/numbers/check", json={"number": 5})
    assert sent.status_code == 422 and sent.headers["content-type"] == PROBLEM
    assert {"type", "title", "status", "detail", "errors"} <= set(sent.json())
    nta = client.get("/4/num", params={"type": "12", "id": "unknown", "number": "1"})
    assert nta.status_code == 404 and nta.headers["content-type"].startswith("application/xml")


def _utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    assert value.utcoffset() == dt.timedelta(0), text
    return value


def test_instants_are_answered_in_utc_with_an_offset(client: TestClient, fuzz_world: World) -> None:
    town, agency = fuzz_world.headers["municipality"], fuzz_world.headers["agency"]
    card = client.get(f"/api/cards/{fuzz_world.card_id}", headers=town).json()
    assert [e["event"] for e in card["events"]][-1] == "handed_over"
    for event in card["events"]:
        _utc(event["at"])  # SQLite hands these back naive
    pem = client.get(f"/api/cards/{fuzz_world.card_id}/certificates/auth", headers=town)
    assert pem.headers["content-type"] == "application/x-pem-file"
    as_of = "2030-01-01T09:00:00+09:00"
    validity = client.post(
        "/api/jpki/validity", json={"certificate": pem.text, "at": as_of}, headers=fuzz_world.headers["jlis"]
    ).json()
    assert _utc(validity["at"]) == dt.datetime.fromisoformat(as_of)
    _utc(validity["not_before"]), _utc(validity["not_after"])
    code = client.post("/api/network/codes", json={"my_number": fuzz_world.my_numbers[0]}, headers=agency).json()
    query = {
        "business": "national_pension_premium",
        "provider": TOWN,
        "item": "local_tax",
        "subject_code": code["code"],
    }
    answer = client.post("/api/network/queries", json=query, headers=agency).json()
    assert _utc(answer["asked_at"]) <= _utc(answer["answered_at"])


def test_an_instant_without_an_offset_is_refused(client: TestClient, fuzz_world: World) -> None:
    pem = client.get(f"/api/cards/{fuzz_world.card_id}/certificates/auth", headers=fuzz_world.headers["municipality"])
    reply = client.post(
        "/api/jpki/validity",
        json={"certificate": pem.text, "at": "2030-01-01T09:00:00"},
        headers=fuzz_world.headers["jlis"],
    )
    assert reply.status_code == 422 and reply.headers["content-type"] == PROBLEM
    assert reply.json()["errors"][0]["pointer"] == "at"
