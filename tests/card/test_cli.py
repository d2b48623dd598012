"""``openmyna card list|cert|report-lost|sign|face`` over a database of their own."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmyna.app import migrate
from openmyna.card import service as cards
from openmyna.cli.main import app
from openmyna.core.config import Settings
from openmyna.core.context import open_context
from openmyna.core.db import make_engine, unit_of_work
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.schemas import ResidentCreate
from tests.conftest import TEST_MASTER_KEY
from tests.registry.test_api import mover


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "OPENMYNA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OPENMYNA_VAR_DIR": str(tmp_path / "var"),
        "OPENMYNA_DATA_KEY": base64.b64encode(TEST_MASTER_KEY).decode(),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    migrate.upgrade(make_engine(values["OPENMYNA_DATABASE_URL"]))
    return values


def _card(env: dict[str, str]) -> tuple[int, str]:
    context = open_context(Settings())
    config = CaConfig.from_settings(context.settings, context.keys)
    clerk = Caller(org_code="131016", actor="staff:test", scopes=frozenset(), via="test")
    with unit_of_work(context.session_factory) as session:
        data = ResidentCreate(**mover(my_number=None))
        person = registry.create_resident(
            session, keys=context.keys, municipality_code="131016", data=data, caller=clerk
        )
        session.flush()
        card = cards.apply(session, resident_id=person.id, caller=clerk)
        cards.manufacture(session, keys=context.keys, card_id=card.id, caller=clerk)
        cards.setup(session, config=config, card_id=card.id, caller=clerk)
        cards.hand_over(
            session,
            keys=context.keys,
            card_id=card.id,
            caller=clerk,
            auth_pin="1234",
            sign_pin="PIN123",
            identity_checked=True,
        )
        return card.id, person.resident_code


def test_list_cert_sign_and_report_lost(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    card_id, code = _card(env)
    listed = runner.invoke(app, ["card", "list"])
    assert listed.exit_code == 0 and listed.stdout.strip() == f"{card_id}\t{code}\tactive"
    out = tmp_path / "auth.pem"
    assert runner.invoke(app, ["card", "cert", str(card_id), "--kind", "auth", "--out", str(out)]).exit_code == 0
    text = subprocess.run(["openssl", "x509", "-in", out, "-noout", "-text"], capture_output=True, text=True).stdout
    assert "1.2.392.200149.8.5.1.3" in text
    signed = runner.invoke(
        app, ["card", "sign", "--card", str(card_id), "--pin", "1234", "--kind", "auth", "--challenge", "x"]
    )
    assert signed.exit_code == 0 and len(base64.b64decode(signed.stdout.strip())) == 256
    wrong = runner.invoke(
        app, ["card", "sign", "--card", str(card_id), "--pin", "0000", "--kind", "auth", "--challenge", "x"]
    )
    assert wrong.exit_code == 1
    assert runner.invoke(app, ["card", "cert", "999", "--kind", "auth", "--out", str(out)]).exit_code == 1
    assert runner.invoke(app, ["card", "report-lost", str(card_id)]).exit_code == 0
    assert runner.invoke(app, ["card", "list"]).stdout.strip().endswith("suspended")
    assert runner.invoke(app, ["card", "report-lost", str(card_id)]).exit_code == 1
