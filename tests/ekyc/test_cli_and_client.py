"""The CLI (``openmyna ekyc …``) and the bank's example client, written with httpx and cryptography only."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openmyna.card.reader_http import create_reader_app
from openmyna.cli.main import app
from openmyna.core.crypto import KeyRing
from openmyna.orgs import service as orgs
from tests.card.test_cli import _card, env  # noqa: F401  (fixture)
from tests.ekyc.conftest import AUTH_PIN, BANK, SIGN_PIN, Businesses
from tests.portal.conftest import Holder

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bank_client.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bank_client", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bank_client"] = module
    spec.loader.exec_module(module)
    return module


def test_the_bank_client_opens_an_account_follows_a_move_and_logs_in(
    client: TestClient,
    db: Session,
    keys: KeyRing,
    businesses: Businesses,
    holder: Callable[..., Holder],
    town_headers: dict[str, str],
) -> None:
    source = EXAMPLE.read_text()
    assert "openmyna" not in "".join(line for line in source.splitlines() if line.startswith(("import", "from")))
    example = _example()
    person = holder()
    pem = orgs.custodial_private_key(keys, orgs.get_organisation(db, BANK))
    token = example.access_token(client, client_id=BANK, private_pem=pem, base_url="http://testserver")
    with TestClient(create_reader_app(person.reader, allowed_origins=["http://testserver"])) as reader:
        opened = example.open_account(client, reader, token=token, pin=SIGN_PIN)
        assert set(opened["facts"]) == {"name", "birth_date", "sex", "address"}
        with pytest.raises(example.Refused) as wrong:
            example.open_account(client, reader, token=token, pin="WRONG1")
        assert wrong.value.problem["type"].endswith("card-wrong-pin")
        with pytest.raises(example.Refused) as greedy:
            example.open_account(client, reader, token=token, pin=SIGN_PIN, facts=["name", "hobby"])
        assert greedy.value.problem["status"] == 422
        move = {"event_date": "2026-06-01", "address": {"postal_code": "1010021", "block": "2番3号"}}
        url = f"/api/registry/residents/{person.resident_id}/move-within"
        assert client.post(url, json=move, headers=town_headers).status_code == 200
        assert client.post(f"/api/cards/{person.card.id}/reissue-signing", headers=town_headers).status_code == 200
        status = example.certificate_status(client, token=token, verification_id=opened["verification_id"])
        assert status["status"] == "revoked" and "2番3号" in status["replaced_by"]["facts"]["address"]
        logged_in = example.login(client, reader, token=token, pin=AUTH_PIN)
    assert logged_in["pseudonym"] == opened["pseudonym"]


def test_cli_registers_lists_opens_an_account_logs_in_and_refuses_unregistered_facts(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    card_id, _ = _card(env)  # signing PIN PIN123, 4-digit PIN 1234
    runner = CliRunner()
    steps = (
        ["org", "add", "--code", "pf", "--name", "認証プラットフォーム", "--kind", "platform_operator"],
        [
            "org",
            "add",
            "--code",
            "telco",
            "--name",
            "通信会社",
            "--kind",
            "business",
            "--key-out",
            str(tmp_path / "t.pem"),
        ],
    )
    for step in steps:
        assert runner.invoke(app, step).exit_code == 0
    register = ["ekyc", "register", "--operator", "pf", "--code", "telco", "--name", "通信会社", "--kind", "phone"]
    made = runner.invoke(app, [*register, "--facts", "name,address"])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(app, ["ekyc", "businesses"])
    assert listed.stdout.split("\t")[:4] == ["telco", "pf", "phone", "name,address"]
    again = runner.invoke(app, [*register, "--facts", "name"])
    assert again.exit_code == 1  # registered once
    opening = ["ekyc", "open-account", "--card", str(card_id), "--pin", "PIN123", "--business", "telco"]
    opened = runner.invoke(app, opening)
    assert opened.exit_code == 0, opened.output
    answer = json.loads(opened.stdout)
    assert set(answer["facts"]) == {"name", "address"} and answer["verification_id"].startswith("ekyc_")
    greedy = runner.invoke(app, [*opening, "--facts", "name,sex"])
    assert greedy.exit_code == 1 and json.loads(greedy.stdout)["type"] == "ekyc-facts-not-registered"
    status = runner.invoke(app, ["ekyc", "status", "--business", "telco", "--verification", answer["verification_id"]])
    assert status.exit_code == 0 and json.loads(status.stdout)["status"] == "good"
    unknown = runner.invoke(app, ["ekyc", "status", "--business", "telco", "--verification", "ekyc_nope"])
    assert unknown.exit_code == 1 and json.loads(unknown.stdout)["type"] == "ekyc-verification-not-found"
    login = runner.invoke(app, ["ekyc", "login", "--card", str(card_id), "--pin", "1234", "--business", "telco"])
    assert login.exit_code == 0 and json.loads(login.stdout)["pseudonym"] == answer["pseudonym"]
    stranger = runner.invoke(app, ["ekyc", "login", "--card", str(card_id), "--pin", "1234", "--business", "nobody"])
    assert stranger.exit_code == 1 and json.loads(stranger.stdout)["type"] == "ekyc-unknown-business"
