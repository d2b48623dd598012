"""The assembled application: health, OpenAPI, pages, language switch, problem+json, CLI init."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from openmyna.cli.main import app as cli


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_documents_every_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    paths = set(spec["paths"])
    assert {
        "/oauth/token",
        "/api/numbers/check",
        "/api/registry/residents",
        "/api/registry/residents/lookup",
        "/api/registry/residents/{resident_id}/move-out",
        "/api/registry/households/{household_id}",
    } <= paths
    assert client.get("/docs").status_code == 200


def test_landing_page_is_japanese_first_with_an_english_switch(client: TestClient) -> None:
    page = client.get("/")
    assert '<html lang="ja">' in page.text and "マイナンバー" in page.text
    english = client.get("/?lang=en")
    assert '<html lang="en">' in english.text and "running on your machine" in english.text
    assert '<html lang="en">' in client.get("/").text  # the choice is remembered


def test_unknown_paths_are_problem_json(client: TestClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_number_check_api(client: TestClient) -> None:
    ok = client.post("/api/numbers/check", json={"number": "6214-9832-0257"}).json()
    assert ok == {"kind": "my_number", "valid": True, "reason": "valid", "formatted": "**** **** 0257"}
    bad = client.post("/api/numbers/check", json={"number": "5835678256247", "kind": "corporate_number"}).json()
    assert not bad["valid"] and "check digit" in bad["reason"]
    assert client.post("/api/numbers/check", json={"number": "1" * 50}).status_code == 422


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.dates().map(str),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
registry_fields = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in (
            "kind",
            "family_name",
            "given_name",
            "family_name_kana",
            "given_name_kana",
            "birth_date",
            "sex",
            "event_date",
            "my_number",
            "address",
            "household",
        )
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=registry_fields | json_values)
def test_arbitrary_bodies_never_cause_a_server_error(
    client: TestClient, town_headers: dict[str, str], body: object
) -> None:
    for path in ("/api/registry/residents", "/api/registry/residents/lookup", "/api/registry/residents/1/death"):
        response = client.post(
            path, content=json.dumps(body), headers={**town_headers, "content-type": "application/json"}
        )
        assert response.status_code < 500, (path, body, response.text)


def test_init_is_idempotent(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENMYNA_DATABASE_URL", f"sqlite:///{tmp_path}/init.db")
    monkeypatch.setenv("OPENMYNA_VAR_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    first = runner.invoke(cli, ["init"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, ["init"])
    assert second.exit_code == 0 and "up to date" in second.output
    assert (tmp_path / "var" / "data.key").exists()
    assert oct((tmp_path / "var" / "data.key").stat().st_mode)[-3:] == "600"
