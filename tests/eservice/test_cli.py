"""``openmyna eservice procedures|example|apply|signature`` exactly as documented, and ``openssl cms -verify``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from openmyna.card import service as cards
from openmyna.cli.main import app
from openmyna.core import audit
from openmyna.core.config import Settings
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.eservice.service import REFUSED_ACTION
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.schemas import ResidentCreate
from tests.card.test_cli import env  # noqa: F401  (fixture: a SQLite database of the test's own)
from tests.registry.test_api import mover, newborn

SIGN_PIN = "PIN123"
CODE = "child-allowance-certification"


def _parent_with_card(children: bool = True) -> int:
    """A parent (with a child, through the registry) holding a card with a signing certificate."""
    context = open_context(Settings())
    config = CaConfig.from_settings(context.settings, context.keys)
    clerk = Caller(org_code="131016", actor="staff:test", scopes=frozenset(), via="test")
    with unit_of_work(context.session_factory) as session:
        person = registry.create_resident(
            session,
            keys=context.keys,
            municipality_code="131016",
            data=ResidentCreate(**mover(my_number=None)),
            caller=clerk,
        )
        session.flush()
        if children:
            child = newborn(
                birth_date="2021-05-05",
                event_date="2021-05-05",
                household={"household_id": person.household_id, "relationship": "child"},
            )
            registry.create_resident(
                session, keys=context.keys, municipality_code="131016", data=ResidentCreate(**child), caller=clerk
            )
        card = cards.apply(session, resident_id=person.id, caller=clerk)
        cards.manufacture(session, keys=context.keys, card_id=card.id, caller=clerk)
        cards.setup(session, config=config, card_id=card.id, caller=clerk)
        cards.hand_over(
            session, keys=context.keys, card_id=card.id, caller=clerk, auth_pin="1234", sign_pin=SIGN_PIN,
            identity_checked=True,
        )  # fmt: skip
        return card.id


def _signing_ca(path: Path) -> Path:
    context = open_context(Settings())
    with unit_of_work(context.session_factory) as session:
        pem = jpki.ca_certificate_pem(
            session, config=CaConfig.from_settings(context.settings, context.keys), kind="sign"
        )
    path.write_bytes(pem)
    return path


def test_procedures_and_example(env: dict[str, str]) -> None:  # noqa: F811
    runner = CliRunner()
    listed = runner.invoke(app, ["eservice", "procedures"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.strip().splitlines()
    assert len(lines) >= 24 and all(line.split("\t")[0] for line in lines)
    assert any(line.startswith(f"{CODE}\t131016\t") for line in lines)
    shown = runner.invoke(app, ["eservice", "example", CODE])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["name"] == "山田 花子"
    assert runner.invoke(app, ["eservice", "example", "nope"]).exit_code == 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_apply_prints_only_the_receipt_and_the_signature_verifies_with_openssl(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    card = _parent_with_card()
    form = tmp_path / "form.json"
    form.write_text(runner.invoke(app, ["eservice", "example", CODE]).stdout, encoding="utf-8")
    args = ["eservice", "apply", "--card", str(card), "--pin", SIGN_PIN, "--procedure", CODE, "--data", str(form)]
    applied = runner.invoke(app, args)
    assert applied.exit_code == 0, applied.output
    receipt = json.loads(applied.stdout)  # only a JSON object on stdout
    assert set(receipt) == {"application_id", "receipt_number"} and receipt["receipt_number"].startswith("131016-")
    again = runner.invoke(app, args)  # idempotent: the same content is the same application
    assert json.loads(again.stdout) == receipt

    out = tmp_path / "sig"
    exported = runner.invoke(app, ["eservice", "signature", receipt["application_id"], "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    content = (out / "content").read_bytes()
    assert json.loads(content)["data"][CODE]["name"] == "山田 花子"
    ca = _signing_ca(tmp_path / "sign-ca.pem")
    verify = [
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(out / "signature.p7s"),
        "-content", str(out / "content"), "-CAfile", str(ca), "-purpose", "any", "-out", "/dev/null",
    ]  # fmt: skip
    checked = subprocess.run(verify, capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and "Verification successful" in checked.stderr, checked.stderr
    (out / "content").write_bytes(content.replace("山田".encode(), "川田".encode()))  # one changed byte fails
    assert subprocess.run(verify, capture_output=True, check=False).returncode != 0


def test_apply_refusals_exit_non_zero_with_nothing_on_stdout(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    runner = CliRunner()
    card = _parent_with_card(children=False)
    form = tmp_path / "form.json"
    form.write_text(runner.invoke(app, ["eservice", "example", CODE]).stdout, encoding="utf-8")
    base = ["eservice", "apply", "--card", str(card), "--procedure", CODE, "--data", str(form)]
    not_entitled = runner.invoke(app, [*base, "--pin", SIGN_PIN])
    assert not_entitled.exit_code == 1 and not not_entitled.stdout and "Not entitled" in not_entitled.stderr
    wrong_pin = runner.invoke(app, [*base, "--pin", "WRONG9"])
    assert wrong_pin.exit_code == 1 and not wrong_pin.stdout
    form.write_text(json.dumps({"name": ""}), encoding="utf-8")
    invalid = runner.invoke(app, [*base, "--pin", SIGN_PIN])
    assert invalid.exit_code == 1 and not invalid.stdout and "The form has errors" in invalid.stderr
    # only the submission the server refused is in the holder's trail: the PIN and the form stop at the client
    context = open_context(Settings())
    with unit_of_work(context.session_factory) as session:
        refused = session.scalars(select(audit.AccessEvent).where(audit.AccessEvent.action == REFUSED_ACTION)).all()
        holder = registry.find_resident(session, resident_id=cards.get_card(session, card_id=card).resident_id)
        assert holder is not None
        subject = registry.subject_of(holder)
    assert [(e.subject, e.purpose) for e in refused] == [(subject, f"eservice-not-entitled: {CODE}")]
