"""Bad input through the HTTP layer, on both databases: always a 4xx problem, never a 500, and nothing stored.

One section per class of input that used to reach a database or an encoder and fail there: integers beyond
64 bits, a lone surrogate or deep nesting in the exchange query, NUL, controls and bidi overrides in stored
text, unknown fields and booleans taken as numbers, and bodies over the size or depth caps.
"""

from __future__ import annotations

import json
import typing
import unicodedata
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.card.models import Card
from openmyna.core.audit import AccessEvent
from openmyna.corporate.models import Activity
from openmyna.network.models import ExchangeRecord
from openmyna.registry.models import Household, Resident
from tests.registry.test_api import assert_problem, newborn

BEYOND_64_BITS = 99999999999999999999
QUERIES = "/api/network/queries"
QUERY = {"business": "national_pension_premium", "provider": "nenkin", "item": "local_tax", "subject_code": "X"}


def stored(db: Session) -> tuple[int, ...]:
    """Row counts of every table a refused request must leave alone."""
    models = (Resident, Household, Card, Activity, AccessEvent, ExchangeRecord)
    return tuple(db.scalar(select(func.count()).select_from(m)) or 0 for m in models)


def raw_json(text: str, client: TestClient, path: str, headers: dict[str, str], **extra: str):
    """POST ``text`` as it is (JSON escapes such as ``\\ud800`` stay escapes on the wire)."""
    return client.post(path, content=text.encode(), headers={**headers, "content-type": "application/json", **extra})


# --- integers beyond the id columns' 32 bits (and beyond 64), in paths, queries and bodies ----------------------------

ID_PATHS = [
    ("get", "/api/registry/residents/{id}", None),
    ("get", "/api/registry/residents/{id}/as-of/2024-04-01", None),
    ("patch", "/api/registry/residents/{id}", {"reason": "correction", "event_date": "2024-04-01"}),
    ("post", "/api/registry/residents/{id}/death", {"event_date": "2024-04-01"}),
    ("get", "/api/registry/households/{id}", None),
    ("post", "/api/registry/households/{id}/head", {"resident_id": 1, "event_date": "2024-04-01"}),
    ("get", "/api/cards/{id}", None),
    ("post", "/api/cards/{id}/manufacture", None),
    ("post", "/api/cards/{id}/revoke", {"reason": "returned"}),
    ("get", "/api/cards/{id}/certificates/auth", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ID_PATHS, ids=[f"{m} {p}" for m, p, _ in ID_PATHS])
@pytest.mark.parametrize("bad", [2**31, BEYOND_64_BITS, 2**63, -BEYOND_64_BITS, 0])
def test_an_id_out_of_range_in_a_path_is_422(
    client: TestClient, town_headers, db: Session, method: str, path: str, body: Any, bad: int
) -> None:
    before = stored(db)
    response = client.request(method, path.format(id=bad), json=body, headers=town_headers)
    problem = assert_problem(response, 422, "validation")
    assert problem["errors"][0]["pointer"].endswith("_id")
    assert stored(db) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/cards", {"resident_id": 10**19}),
        ("/api/cards", {"resident_id": 2**31}),
        ("/api/cards", {"resident_id": -(2**63) - 1}),
        ("/api/cards/bulk", {"employer_code": "E1", "resident_ids": [1, -(10**30)]}),
        ("/api/cards/bulk", {"employer_code": "E1", "resident_ids": [2**63]}),
        ("/api/registry/residents", newborn(household={"household_id": BEYOND_64_BITS, "relationship": "child"})),
        ("/api/registry/households/1/head", {"resident_id": BEYOND_64_BITS, "event_date": "2024-04-01"}),
    ],
    ids=["card", "card-2^31", "card-negative", "bulk-negative", "bulk-2^63", "household", "head"],
)
def test_an_id_out_of_range_in_a_body_is_422(
    client: TestClient, town_headers, db: Session, path: str, body: dict[str, Any]
) -> None:
    before = stored(db)
    assert_problem(client.post(path, json=body, headers=town_headers), 422, "validation")
    assert stored(db) == before


@pytest.mark.parametrize(
    "url",
    [
        f"/api/cards?resident_id={BEYOND_64_BITS}",
        f"/api/network/proof/inclusion?leaf_index={BEYOND_64_BITS}",
        f"/api/network/proof/consistency?first=1&second={BEYOND_64_BITS}",
        f"/api/registry/residents?name=山&offset={BEYOND_64_BITS}",
    ],
)
def test_an_integer_out_of_range_in_a_query_is_422(client: TestClient, town_headers, url: str) -> None:
    assert_problem(client.get(url, headers=town_headers), 422, "validation")


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-01:00", "2026-01-01T09:00:00"])
def test_a_validity_check_at_an_instant_past_the_calendar_or_without_offset_is_422(
    client: TestClient, db: Session, keys, at: str
) -> None:
    from openmyna.orgs import service as orgs
    from tests.conftest import bearer_for

    verifier = orgs.add_organisation(db, keys=keys, code="verifier1", name="検証者", kind="linked_site")
    db.commit()
    headers = bearer_for(client, "verifier1", verifier.private_key_pem)
    before = stored(db)
    response = client.post("/api/jpki/validity", json={"certificate": "MII" + "A" * 40, "at": at}, headers=headers)
    assert_problem(response, 422, "validation")
    assert stored(db) == before


# --- the exchange query, whose route reads its body itself --------------------------------------------------------


def exchange_records(db: Session) -> list[dict[str, Any]]:
    return [json.loads(e) for e in db.scalars(select(ExchangeRecord.entry).order_by(ExchangeRecord.id))]


@pytest.mark.parametrize("field", ["business", "provider", "item", "subject_code", "purpose_reference"])
@pytest.mark.parametrize("bad", ["\\ud800", "\\udfff", "\\u0000", "\\u001b[31m", "\\u009b"])
def test_an_exchange_query_with_a_bad_character_is_refused_and_recorded_storably(
    client: TestClient, town_headers, db: Session, field: str, bad: str
) -> None:
    """A lone surrogate or control character is refused as 422, and the refusal is recorded, cleaned."""
    before = len(exchange_records(db))
    body = json.dumps({**QUERY, field: "x"}).replace('"x"', f'"{bad}x"')
    response = raw_json(body, client, QUERIES, town_headers)
    assert_problem(response, 422, "validation")
    records = exchange_records(db)
    assert len(records) == before + 2  # the requester's and the provider's record of the refusal
    for record in records[-2:]:
        assert record["requester"] == "131016" and record["result"] == "refused"
        recorded = {"provider": record["provider"], "business": record["business"], "item": record["items"][0],
                    "purpose_reference": record["purpose"]}  # fmt: skip
        if field in recorded:
            sent = json.loads(f'"{bad}x"')
            assert recorded[field] == "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cs") else c for c in sent)
        assert json.dumps(record, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_an_exchange_query_nested_5000_deep_is_4xx(
    client: TestClient, town_headers, db: Session, content_type: str
) -> None:
    """JSON-typed, the limits middleware refuses it before the route; typed otherwise, the route refuses and records."""
    before = len(exchange_records(db))
    response = client.post(
        QUERIES, content=b"[" * 5000 + b"]" * 5000, headers={**town_headers, "content-type": content_type}
    )
    if content_type == "application/json":
        assert_problem(response, 400, "json-too-deep")
        assert len(exchange_records(db)) == before
    else:
        assert_problem(response, 422, "validation")
        assert [r["result"] for r in exchange_records(db)[before:]] == ["refused", "refused"]


def test_an_unauthenticated_malformed_query_is_recorded_storably(client: TestClient, db: Session) -> None:
    before = len(exchange_records(db))
    response = raw_json('{"provider": "\\ud800\\u0000nenkin", "business": "\\udc00"}', client, QUERIES, {})
    assert_problem(response, 401, "unauthorized")
    records = exchange_records(db)[before:]
    assert [r["provider"] for r in records] == ["\ufffd\ufffdnenkin"] * 2
    assert [r["business"] for r in records] == ["\ufffd"] * 2


# --- NUL, controls and bidi overrides in stored text --------------------------------------------------------------

RESIDENT_TEXT = [
    ("family_name", "山\x00田"),
    ("given_name", "太\u202e郎"),
    ("given_name", "太郎\u2066"),
    ("family_name", "山田\x1b[2J"),
    ("family_name_kana", "ﾔﾏ\x85ﾀﾞ"),
    ("former_family_name", "鈴木\u200f"),
    ("previous_address", "大阪府\x00"),
    ("address", {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "5番\x001号"}),
    ("address", {"postal_code": "102-0072", "town": "飯田橋\x07", "block": "5番1号"}),
    ("address", {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "5番1号", "building": "ビル\n2F"}),
]


@pytest.mark.parametrize(("field", "value"), RESIDENT_TEXT, ids=[f"{f}-{i}" for i, (f, _) in enumerate(RESIDENT_TEXT)])
def test_a_resident_with_a_nul_control_or_bidi_character_is_422(
    client: TestClient, town_headers, db: Session, field: str, value: Any
) -> None:
    before = stored(db)
    response = client.post("/api/registry/residents", json=newborn(**{field: value}), headers=town_headers)
    problem = assert_problem(response, 422, "validation")
    assert "not allowed" in problem["detail"]
    assert stored(db) == before


def test_a_name_change_or_move_out_with_a_bad_character_is_422(client: TestClient, town_headers, db: Session) -> None:
    created = client.post("/api/registry/residents", json=newborn(), headers=town_headers)
    assert created.status_code == 201, created.text
    resident = created.json()["id"]
    before = stored(db)
    change = {"reason": "name_change", "event_date": "2024-05-01", "family_name": "佐藤\x00"}
    assert_problem(client.patch(f"/api/registry/residents/{resident}", json=change, headers=town_headers), 422)
    change = {**change, "family_name": "\u202e佐藤"}
    assert_problem(client.patch(f"/api/registry/residents/{resident}", json=change, headers=town_headers), 422)
    away = {"event_date": "2024-05-01", "destination": "大阪府\x00大阪市"}
    response = client.post(f"/api/registry/residents/{resident}/move-out", json=away, headers=town_headers)
    assert_problem(response, 422)
    assert stored(db) == before
    assert client.get(f"/api/registry/residents/{resident}", headers=town_headers).json()["family_name"] == "山田"


def test_japanese_names_with_marks_and_spaces_are_stored_as_given(client: TestClient, town_headers) -> None:
    body = newborn(family_name="佐々木", given_name="ゆう子", family_name_kana="ササキ", given_name_kana="ユーコ")
    response = client.post("/api/registry/residents", json=body, headers=town_headers)
    assert response.status_code == 201, response.text
    assert (response.json()["family_name"], response.json()["given_name_kana"]) == ("佐々木", "ユーコ")


ACTIVITY = {"corporate_number": "7000012050002", "kind": "commendation", "title": "千代田区優良事業者表彰",
            "date": "2026-04-01", "government_departments": "千代田区"}  # fmt: skip


@pytest.mark.parametrize(
    "override",
    [
        {"title": "表彰\x00"},
        {"government_departments": "千代田区\x00"},
        {"target": "\x1b"},
        {"title": "表彰\n二行目"},
        {"note": "備考\x00"},
        {"kind": "commendation\x00"},
    ],
    ids=["title-nul", "departments-nul", "target-escape", "title-newline", "note-nul", "kind-nul"],
)
def test_an_activity_with_a_bad_character_is_422(
    client: TestClient, town_headers, db: Session, override: dict[str, str]
) -> None:
    before = stored(db)
    response = client.post("/api/corporate/activities", json={**ACTIVITY, **override}, headers=town_headers)
    assert_problem(response, 422, "validation")
    assert stored(db) == before


def test_an_activity_note_may_span_lines(client: TestClient, town_headers) -> None:
    body = {**ACTIVITY, "note": "一行目\n二行目\tタブ"}
    response = client.post("/api/corporate/activities", json=body, headers=town_headers)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "url",
    [
        "/api/registry/residents?name=%00",
        "/api/registry/residents?kana=%E3%82%A2%1F",
        "/api/orgs/%00",
        "/corporations?q=%00",
    ],
)
def test_a_nul_or_control_in_a_query_or_path_is_422(client: TestClient, town_headers, url: str) -> None:
    assert_problem(client.get(url, headers=town_headers), 422, "validation")


def test_corporate_search_apis_refuse_a_nul_in_their_own_formats(client: TestClient, db: Session) -> None:
    from openmyna.corporate import service

    token = service.issue_token(db, name="bad input")
    db.commit()
    gbiz = client.get("/hojin/v2/hojin?name=%00", headers={"X-hojinInfo-api-token": token})
    assert gbiz.status_code == 400 and gbiz.json()["errors"][0]["item"] == "name"
    nta = client.get(f"/4/name?id={token}&type=02&name=%E6%A0%AA%00")
    assert nta.status_code == 400 and nta.text.startswith("073,")


@pytest.mark.parametrize("dates", [("00010101", "20240101"), ("20240101", "99991231")])
def test_gbiz_update_dates_at_the_ends_of_the_calendar_are_400(client: TestClient, db: Session, dates) -> None:
    from openmyna.corporate import service

    token = service.issue_token(db, name="bad input")
    db.commit()
    response = client.get(
        "/hojin/v2/hojin/updateInfo/subsidy",
        params={"from": dates[0], "to": dates[1]},
        headers={"X-hojinInfo-api-token": token},
    )
    assert response.status_code == 400, response.text


def test_a_token_request_with_a_nul_client_id_is_invalid_client(client: TestClient, town) -> None:
    """RFC 6749 §5.2: a client id no client has is invalid_client (401), which OAuth clients understand."""
    form = {"grant_type": "client_credentials", "client_id": "131016\x00", "client_assertion": "x.y.z",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}  # fmt: skip
    assert_problem(client.post("/oauth/token", data=form), 401, "oauth")
    assert client.post("/oauth/token", data=form).json()["error"] == "invalid_client"


# --- unknown fields, and booleans or floats taken as numbers ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/numbers/check", {"number": "6214-9832-0257", "kind": "my_number", "extra": 1}),
        ("/api/corporate/activities", {**ACTIVITY, "amout": 100}),
        ("/api/corporate/activities", {**ACTIVITY, "amount": True}),
        ("/api/corporate/activities", {**ACTIVITY, "amount": 1.5}),
        ("/api/corporate/activities", {**ACTIVITY, "amount": "100"}),
        ("/api/cards", {"resident_id": True}),
        ("/api/cards", {"resident_id": 1.0}),
        ("/api/cards", {"resident_id": "1"}),
        ("/api/cards", {"resident_id": 1, "with_signing": 1}),
        ("/api/cards/bulk", {"employer_code": "E1", "resident_ids": [True]}),
        ("/api/registry/households/1/head", {"resident_id": False, "event_date": "2024-04-01"}),
    ],
    ids=[
        "numbers-extra",
        "activity-misspelt",
        "amount-true",
        "amount-float",
        "amount-string",
        "id-true",
        "id-float",
        "id-string",
        "signing-1",
        "bulk-true",
        "head-false",
    ],
)
def test_unknown_fields_and_non_integers_are_422(
    client: TestClient, town_headers, db: Session, path: str, body: dict[str, Any]
) -> None:
    before = stored(db)
    assert_problem(client.post(path, json=body, headers=town_headers), 422, "validation")
    assert stored(db) == before


def test_a_lone_surrogate_in_a_json_body_is_422(client: TestClient, town_headers, db: Session) -> None:
    before = stored(db)
    for body in ('{"number": "\\ud800"}', '{"number": "1", "\\ud800": 1}'):
        assert_problem(raw_json(body, client, "/api/numbers/check", {}), 422, "validation")
    activity = json.dumps({**ACTIVITY, "target": "x"}).replace('"x"', '"\\udc00"')
    assert_problem(raw_json(activity, client, "/api/corporate/activities", town_headers), 422, "validation")
    resident = json.dumps(newborn(given_name="x")).replace('"x"', '"\\ud83d"')
    assert_problem(raw_json(resident, client, "/api/registry/residents", town_headers), 422, "validation")
    assert stored(db) == before


# --- the body caps ------------------------------------------------------------------------------------------------


def test_a_body_over_the_size_cap_is_413_and_stores_nothing(client: TestClient, town_headers, db: Session) -> None:
    before = stored(db)
    body = newborn(previous_address="大" * (1 << 19))  # 1.5 MiB of UTF-8
    response = client.post("/api/registry/residents", json=body, headers=town_headers)
    assert_problem(response, 413, "body-too-large")
    chunked = client.post(
        "/api/registry/residents",
        content=(b"x" * 65536 for _ in range(20)),
        headers={**town_headers, "content-type": "application/json"},
    )
    assert_problem(chunked, 413, "body-too-large")
    assert stored(db) == before


def test_the_size_cap_is_configurable(settings, engine, session_factory, town) -> None:
    from openmyna.app import create_app
    from tests.conftest import bearer_for

    app = create_app(settings.model_copy(update={"max_body_bytes": 512}), engine=engine)
    app.state.session_factory = app.state.read_session_factory = session_factory
    with TestClient(app) as small:
        headers = bearer_for(small, "131016", town.private_key_pem)
        response = small.post("/api/registry/residents", json=newborn(previous_address="大" * 200), headers=headers)
        assert_problem(response, 413, "body-too-large")
        assert small.post("/api/registry/residents", json=newborn(), headers=headers).status_code == 201


def test_a_body_nested_past_the_depth_cap_is_400(client: TestClient, town_headers, db: Session) -> None:
    before = stored(db)
    deep: Any = "x"
    for _ in range(33):
        deep = [deep]
    response = client.post("/api/registry/residents", json=newborn(previous_address=deep), headers=town_headers)
    assert_problem(response, 400, "json-too-deep")
    assert stored(db) == before


def _request_body_models(app: Any) -> list[type[BaseModel]]:
    """The pydantic models behind every request body the OpenAPI document declares, nested ones included."""
    spec = app.openapi()
    components = spec["components"]["schemas"]
    names: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref and (name := ref.rsplit("/", 1)[-1]) not in names:
                names.add(name)
                collect(components.get(name, {}))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                collect(operation.get("requestBody"))
    models: dict[str, list[type[BaseModel]]] = {}

    def subclasses(cls: type[BaseModel]) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("openmyna."):
                models.setdefault(sub.__name__, []).append(sub)
            subclasses(sub)

    subclasses(BaseModel)
    return [model for name in sorted(names) for model in models.get(name, [])]


def test_every_text_field_of_a_request_body_refuses_nul_unless_it_is_base64(client: TestClient) -> None:
    """A NUL that reaches PostgreSQL is a 500 (SQLite stores it): each text field refuses it at the edge.

    Base64 fields are exempt: their decoder refuses the NUL, and nothing stores them as text. The fuzz found
    the kiosk's ``store`` this way on PostgreSQL only; this check finds the next one on either database.
    """
    models = _request_body_models(client.app)
    assert len(models) > 30
    accepting = []
    for model in models:
        for name, field in model.model_fields.items():
            if str not in (typing.get_args(field.annotation) or (field.annotation,)):
                continue
            if "base64" in (field.description or "") or name in {"certificate", "signature", "content", "challenge"}:
                continue
            try:
                model.__pydantic_validator__.validate_assignment(model.model_construct(), name, "a\x00b")
            except ValidationError:
                continue
            accepting.append(f"{model.__module__}.{model.__name__}.{name}")
    assert accepting == []
