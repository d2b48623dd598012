"""The CLI contract (``openmyna health check|clinics``) and the vendor-style example client."""

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
from openmyna.core.config import Settings
from openmyna.core.context import open_context
from openmyna.core.crypto import KeyRing
from openmyna.core.db import unit_of_work
from openmyna.health import insurers
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry
from tests.card.test_cli import _card, env  # noqa: F401  (fixture)
from tests.health.conftest import CLINIC, KYOKAI, World
from tests.portal.conftest import Holder

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "health_client.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("health_client", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["health_client"] = module
    spec.loader.exec_module(module)
    return module


def test_example_client_checks_eligibility_with_httpx_and_cryptography_only(
    client: TestClient, db: Session, keys: KeyRing, world: World, insured: Callable[..., Holder]
) -> None:
    source = EXAMPLE.read_text()
    assert "openmyna" not in "".join(line for line in source.splitlines() if line.startswith(("import", "from")))
    example = _example()
    person = insured(KYOKAI)
    pem = orgs.custodial_private_key(keys, orgs.get_organisation(db, CLINIC))
    token = example.access_token(client, client_id=CLINIC, private_pem=pem, base_url="http://testserver")
    with TestClient(create_reader_app(person.reader, allowed_origins=["http://testserver"])) as reader:
        answer = example.check_eligibility(client, reader, token=token, pin="1234", share=True)
        assert answer["insured"] is True and answer["burden_ratio"] == 0.3
        with pytest.raises(example.Refused) as wrong:
            example.check_eligibility(client, reader, token=token, pin="9999")
    assert wrong.value.problem["type"].endswith("card-wrong-pin")


def test_cli_check_prints_one_json_object_and_clinics_lists_codes_first(env: dict[str, str]) -> None:  # noqa: F811
    card_id, _ = _card(env)
    context = open_context(Settings())
    with unit_of_work(context.session_factory) as session:
        insurers.ensure_clearing_house(session, keys=context.keys)
        insurers.register_insurer(
            session, keys=context.keys, code=KYOKAI, name="協会けんぽ", insurer_number="01130012", scheme="kyokai"
        )
        insurers.register_clinic(session, keys=context.keys, code=CLINIC, name="千代田内科クリニック")
        from openmyna.card import service as cards

        resident = registry.find_resident(session, resident_id=cards.get_card(session, card_id=card_id).resident_id)
        assert resident is not None
        insurers.enrol(
            session,
            keys=context.keys,
            insurer=KYOKAI,
            my_number=registry.my_number_of(context.keys, resident),
            symbol="1",
            number="2",
            branch="00",
            burden_ratio=0.2,
            valid_from=resident.birth_date,
        )
    runner = CliRunner()
    listed = runner.invoke(app, ["health", "clinics"])
    assert listed.exit_code == 0 and listed.stdout.split("\t")[0] == CLINIC
    result = runner.invoke(app, ["health", "check", "--card", str(card_id), "--pin", "1234", "--clinic", CLINIC])
    assert result.exit_code == 0, result.stdout
    body = json.loads(result.stdout)
    assert body["insured"] is True and body["insurer_number"] == "01130012" and body["burden_ratio"] == 0.2
    unknown = runner.invoke(app, ["health", "check", "--card", str(card_id), "--pin", "1234", "--clinic", "0000"])
    assert unknown.exit_code == 1
    refused = json.loads(unknown.stdout)
    assert refused["insured"] is False and refused["type"] == "health-unknown-clinic"
