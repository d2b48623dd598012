"""``openmyna staff unlock|locked|password|sessions …`` against a server's database."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmyna.app import create_app, migrate
from openmyna.cli.main import app as cli
from openmyna.core.config import Settings
from openmyna.core.db import make_engine
from tests.conftest import TEST_MASTER_KEY
from tests.orgs.web import COOKIE, PASSWORD, log_in, replaying

runner = CliRunner()


def _run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(cli, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A server and the CLI over one SQLite file, with the town and its clerk made through the CLI."""
    env = {
        "OPENMYNA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OPENMYNA_VAR_DIR": str(tmp_path / "var"),
        "OPENMYNA_DATA_KEY": base64.b64encode(TEST_MASTER_KEY).decode(),
        "OPENMYNA_LOGIN_ACCOUNT_FAILURES": "2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    migrate.upgrade(make_engine(env["OPENMYNA_DATABASE_URL"]))
    _run("org", "add", "--code", "131016", "--name", "千代田区", "--kind", "municipality")
    _run("staff", "add", "--org", "131016", "--username", "clerk", "--display-name", "窓口", input=f"{PASSWORD}\n" * 2)
    app = create_app(Settings())
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_unlock_lifts_a_lockout(client: TestClient) -> None:
    assert [log_in(client, password="wrong").status_code for _ in range(2)] == [401, 429]
    assert "staff:clerk" in _run("staff", "locked")
    assert "unlocked" in _run("staff", "unlock", "clerk")
    assert "staff:clerk" not in _run("staff", "locked")
    assert log_in(client).status_code == 303


def test_sessions_are_listed_and_revoked(client: TestClient) -> None:
    assert log_in(client).status_code == 303
    cookie = client.cookies[COOKIE]
    listing = _run("staff", "sessions", "list", "clerk")
    assert "staff:clerk" in listing and "testclient" in listing
    assert "revoked 1 session(s) of clerk" in _run("staff", "sessions", "revoke-all", "clerk")
    assert replaying(client, cookie).get("/api/orgs").status_code == 401


def test_one_session_is_revoked_by_its_id(client: TestClient) -> None:
    log_in(client)
    other = TestClient(client.app)
    log_in(other)
    newest = _run("staff", "sessions", "list").split("│")[1].strip()  # the first row's id column
    assert f"revoked session {newest} of staff:clerk" in _run("staff", "sessions", "revoke", newest)
    assert other.get("/api/orgs").status_code == 401
    assert client.get("/api/orgs").status_code == 200


def test_a_new_password_ends_the_sessions(client: TestClient) -> None:
    log_in(client)
    output = _run("staff", "password", "clerk", input="battery staple\n" * 2)
    assert "1 session(s) ended" in output
    assert client.get("/api/orgs").status_code == 401
    assert log_in(client, password="battery staple").status_code == 303


def test_mistakes_are_refused_with_a_message(client: TestClient) -> None:
    unknown = runner.invoke(cli, ["staff", "sessions", "revoke", "999"])
    assert unknown.exit_code == 1 and "no session 999" in unknown.output
    short = runner.invoke(cli, ["staff", "password", "clerk"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    assert runner.invoke(cli, ["staff", "unlock"]).exit_code == 2  # a name or --address is needed
