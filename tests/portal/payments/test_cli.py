"""``openmyna payments list`` over a server's database (SQLite, as the other CLI tests)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from openmyna.app import create_app, migrate
from openmyna.cli.main import app as cli
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.db import make_engine, unit_of_work
from openmyna.orgs import service as orgs
from openmyna.portal.payments import cli as payments_cli
from tests.conftest import TEST_MASTER_KEY, bearer_for
from tests.portal.payments.conftest import BIRTH, create, request_body


def test_the_operator_lists_requests_by_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "OPENMYNA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OPENMYNA_VAR_DIR": str(tmp_path / "var"),
        "OPENMYNA_DATA_KEY": base64.b64encode(TEST_MASTER_KEY).decode(),
        "OPENMYNA_BASE_URL": "http://testserver",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(payments_cli, "console", Console(width=200))  # a wide terminal: no column is cut
    engine = make_engine(env["OPENMYNA_DATABASE_URL"])
    migrate.upgrade(engine)
    app = create_app(Settings(), engine=engine)
    with unit_of_work(app.state.session_factory) as session:
        town = orgs.add_organisation(
            session, keys=KeyRing(TEST_MASTER_KEY), code="131016", name="千代田区", kind="municipality"
        )
    with TestClient(app) as client:
        headers = bearer_for(client, "131016", town.private_key_pem)
        resident = client.post("/api/registry/residents", json=BIRTH, headers=headers).json()["id"]
        made = create(client, headers, request_body(resident, amount=45_600)).json()
    runner = CliRunner()
    listed = runner.invoke(cli, ["payments", "list"])
    assert listed.exit_code == 0, listed.output
    assert "45,600" in listed.output and "open" in listed.output and made["subject"][:20] in listed.output
    paid_only = runner.invoke(cli, ["payments", "list", "--status", "paid"])
    assert paid_only.exit_code == 0 and "45,600" not in paid_only.output
    engine.dispose()
