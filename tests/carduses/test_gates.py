"""Gates through HTTP and the CLI: admission, replay, revoked badge and card, other employers; each logged."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openmyna.card import service as cards
from openmyna.carduses import service
from openmyna.carduses.models import Entry
from openmyna.cli.main import app
from openmyna.core import audit
from openmyna.core.config import Settings
from openmyna.core.context import open_context
from openmyna.core.crypto import KeyRing
from openmyna.core.db import unit_of_work
from openmyna.jpki.authority import CaConfig
from openmyna.orgs import service as orgs
from openmyna.orgs.service import Caller
from tests.card.conftest import _configured, active_card, resident  # noqa: F401  (fixtures)
from tests.card.test_cli import _card, env  # noqa: F401  (fixture)
from tests.conftest import bearer_for
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)
from tests.portal.conftest import Holder, holder  # noqa: F401  (fixtures)

EMPLOYER, OTHER, MINISTRY = "acme", "globex", "mhlw"


@pytest.fixture
def headers(db: Session, keys: KeyRing, client: TestClient) -> dict[str, dict[str, str]]:
    made = {}
    for code, kind in ((EMPLOYER, "employer"), (OTHER, "employer"), (MINISTRY, "ministry")):
        made[code] = orgs.add_organisation(db, keys=keys, code=code, name=code, kind=kind, custodial=True)
    service.add_gate(db, code="ACME-1", name="Acme lobby", employer=EMPLOYER)
    service.add_gate(db, code="GLOBEX-1", name="Globex lobby", employer=OTHER)
    service.add_gate(db, code="MHLW-1", name="庁舎入口", employer=MINISTRY)
    db.commit()
    return {code: bearer_for(client, code, made[code].private_key_pem) for code in made}


@pytest.fixture
def employee(db: Session, keys: KeyRing, holder: Callable[..., Holder]) -> Callable[..., Holder]:  # noqa: F811
    def make(employer: str = EMPLOYER, employee_id: str = "E1") -> Holder:
        person = holder()
        service.register_badge(db, keys=keys, employer=employer, card_id=person.card.id, employee_id=employee_id)
        db.commit()
        return person

    return make


def read(client: TestClient, headers: dict[str, str], gate: str, person: Holder, employer: str) -> dict[str, Any]:
    """What the gate's controller sends after reading the card."""
    issued = client.post(f"/api/gates/{gate}/challenge", headers=headers)
    assert issued.status_code == 200, issued.text
    challenge = base64.b64decode(issued.json()["challenge"])
    try:
        app_data = person.reader.read_app(service.app_name(employer))
    except Exception:
        app_data = {}
    return {
        "challenge": base64.b64encode(challenge).decode(),
        "certificate": base64.b64encode(person.reader.certificate("auth")).decode(),
        "signature": base64.b64encode(person.reader.sign("auth", "1234", data=challenge)).decode(),
        "app": app_data,
    }


def _entries(db: Session, admitted: bool) -> int:
    return db.scalar(select(func.count()).select_from(Entry).where(Entry.admitted.is_(admitted))) or 0


def test_an_employee_is_admitted_and_sees_it(
    client: TestClient, db: Session, headers: dict[str, dict[str, str]], employee: Callable[..., Holder]
) -> None:
    person = employee()
    answer = client.post(
        "/api/gates/ACME-1/enter",
        json=read(client, headers[EMPLOYER], "ACME-1", person, EMPLOYER),
        headers=headers[EMPLOYER],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["admitted"] is True and answer.json()["employee_id"] == "E1"
    actions = [e.action for e in audit.events_for(db, person.card.subject)]
    assert service.ENTER_ACTION in actions and service.BADGE_ACTION in actions
    from tests.portal.conftest import card_login

    card_login(client, person)
    history = client.get("/portal/history", headers={"accept": "text/html"}).text
    assert "acme: 入退館ゲートでの読み取り" in history and "acme: 社員証の書き込み" in history


def test_the_civil_servant_id_is_the_same_mechanism(
    client: TestClient, db: Session, headers: dict[str, dict[str, str]], employee: Callable[..., Holder]
) -> None:
    person = employee(MINISTRY, "MHLW-9")
    body = read(client, headers[MINISTRY], "MHLW-1", person, MINISTRY)
    assert client.post("/api/gates/MHLW-1/enter", json=body, headers=headers[MINISTRY]).json()["admitted"] is True


def test_replayed_reads_and_foreign_badges_are_refused_and_logged(
    client: TestClient, db: Session, headers: dict[str, dict[str, str]], employee: Callable[..., Holder]
) -> None:
    person = employee()
    body = read(client, headers[EMPLOYER], "ACME-1", person, EMPLOYER)
    assert client.post("/api/gates/ACME-1/enter", json=body, headers=headers[EMPLOYER]).status_code == 200
    again = client.post("/api/gates/ACME-1/enter", json=body, headers=headers[EMPLOYER])
    assert again.status_code == 409
    assert again.json()["admitted"] is False and again.json()["reason"] == "replayed"
    foreign = client.post(
        "/api/gates/GLOBEX-1/enter",
        json=read(client, headers[OTHER], "GLOBEX-1", person, OTHER),
        headers=headers[OTHER],
    )
    assert foreign.status_code == 403 and foreign.json()["reason"] == "no-badge"
    # another employer's controller cannot drive this gate at all
    assert client.post("/api/gates/ACME-1/challenge", headers=headers[OTHER]).status_code == 403
    # a badge copied onto another card (the app data alone) does not open the gate
    stranger = employee(EMPLOYER, "E2")
    copied = read(client, headers[EMPLOYER], "ACME-1", stranger, EMPLOYER)
    copied["app"] = {"issuer": EMPLOYER, "data": {"employee_id": "E1", "employer": EMPLOYER}}
    assert client.post("/api/gates/ACME-1/enter", json=copied, headers=headers[EMPLOYER]).json()["reason"] == "no-badge"
    assert _entries(db, False) == 3 and _entries(db, True) == 1


def test_a_revoked_employee_or_card_is_refused_at_once(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    employee: Callable[..., Holder],
    ca_config: CaConfig,  # noqa: F811
    clerk: Caller,
) -> None:
    person = employee()
    body = read(client, headers[EMPLOYER], "ACME-1", person, EMPLOYER)
    service.revoke_badge(db, employer=EMPLOYER, employee_id="E1")
    db.commit()
    refused = client.post("/api/gates/ACME-1/enter", json=body, headers=headers[EMPLOYER])
    assert refused.status_code == 403 and refused.json()["reason"] == "badge-revoked"

    other = employee(EMPLOYER, "E7")
    body = read(client, headers[EMPLOYER], "ACME-1", other, EMPLOYER)
    cards.report_lost(db, config=ca_config, card_id=other.card.id, caller=clerk)
    db.commit()
    lost = client.post("/api/gates/ACME-1/enter", json=body, headers=headers[EMPLOYER])
    assert lost.status_code == 403 and lost.json()["admitted"] is False
    assert lost.json()["reason"] in ("certificate", "card")
    assert _entries(db, True) == 0


def test_bad_input_is_4xx(client: TestClient, db: Session, headers: dict[str, dict[str, str]]) -> None:
    garbled = {"challenge": "!!", "certificate": "", "signature": "", "app": {}}
    assert client.post("/api/gates/ACME-1/enter", json=garbled, headers=headers[EMPLOYER]).status_code == 400
    assert client.post("/api/gates/NOPE/challenge", headers=headers[EMPLOYER]).status_code == 404
    for code in ("ACME%00", "ACME%1B1", "x" * 33):  # refused before the database (PostgreSQL refuses a NUL: a 500)
        for path in (f"/api/gates/{code}/challenge", f"/api/gates/{code}/enter"):
            refused = client.post(path, json=garbled, headers=headers[EMPLOYER])
            assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json", path
    assert client.post("/api/gates/ACME-1/challenge").status_code == 401
    assert [g["code"] for g in client.get("/api/gates").json()] == ["ACME-1", "GLOBEX-1", "MHLW-1"]


def test_cli_gate_enter_prints_admitted_and_reason(env: dict[str, str]) -> None:  # noqa: F811
    card_id, _ = _card(env)
    context = open_context(Settings())
    with unit_of_work(context.session_factory) as session:
        orgs.add_organisation(session, keys=context.keys, code=EMPLOYER, name="Acme", kind="employer")
        service.add_gate(session, code="ACME-1", name="Acme lobby", employer=EMPLOYER)
    runner = CliRunner()
    listed = runner.invoke(app, ["gate", "list"])
    assert listed.exit_code == 0 and listed.stdout.split("\t")[0] == "ACME-1"
    refused = runner.invoke(app, ["gate", "enter", "--card", str(card_id), "--pin", "1234", "--gate", "ACME-1"])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["admitted"] is False
    assert (
        runner.invoke(
            app, ["gate", "badge", "--employer", EMPLOYER, "--card", str(card_id), "--employee-id", "E5"]
        ).exit_code
        == 0
    )
    admitted = runner.invoke(app, ["gate", "enter", "--card", str(card_id), "--pin", "1234", "--gate", "ACME-1"])
    assert admitted.exit_code == 0, admitted.stdout
    body = json.loads(admitted.stdout)
    assert body["admitted"] is True and body["reason"] == "admitted"
