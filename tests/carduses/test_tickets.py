"""Ticketless entry through HTTP and the CLI: binding, the door, the official resale, revoked cards, bad input."""

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

from openmyna.carduses.tickets import service
from openmyna.carduses.tickets.models import TicketRead
from openmyna.cli.main import app
from openmyna.core import audit
from openmyna.core.config import Settings
from openmyna.core.context import open_context
from openmyna.core.crypto import KeyRing
from openmyna.core.db import unit_of_work
from openmyna.orgs import service as orgs
from tests.card.conftest import _configured, active_card, resident  # noqa: F401  (fixtures)
from tests.card.test_cli import _card, env  # noqa: F401  (fixture)
from tests.conftest import bearer_for
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)
from tests.portal.conftest import Holder, card_login, holder  # noqa: F401  (fixtures)

LIVE, OTHER = "live-co", "other-co"
EVENT = {
    "code": "FES-1",
    "name": "夏フェス",
    "venue": "日本武道館",
    "starts_at": "2030-08-01T17:30:00+09:00",
    "capacity": 3,
}


@pytest.fixture
def headers(db: Session, keys: KeyRing, client: TestClient) -> dict[str, dict[str, str]]:
    made = {
        code: orgs.add_organisation(db, keys=keys, code=code, name=code, kind="organiser") for code in (LIVE, OTHER)
    }
    db.commit()
    made_headers = {code: bearer_for(client, code, made[code].private_key_pem) for code in made}
    created = client.post("/api/tickets/events", json=EVENT, headers=made_headers[LIVE])
    assert created.status_code == 201, created.text
    other = {**EVENT, "code": "OTHER-1", "name": "別の公演"}
    assert client.post("/api/tickets/events", json=other, headers=made_headers[OTHER]).status_code == 201
    return made_headers


def proof(
    client: TestClient, headers: dict[str, str], event: str, purpose: str, person: Holder, pin: str = "1234"
) -> dict[str, Any]:
    """What the organiser's reader sends after the card signed a fresh challenge for ``purpose``."""
    issued = client.post(f"/api/tickets/events/{event}/challenge", json={"purpose": purpose}, headers=headers)
    assert issued.status_code == 200, issued.text
    challenge = base64.b64decode(issued.json()["challenge"])
    assert challenge.startswith(f"openmyna ticket v1|{purpose}:{event}|".encode())
    return {
        "challenge": base64.b64encode(challenge).decode(),
        "certificate": base64.b64encode(person.reader.certificate("auth")).decode(),
        "signature": base64.b64encode(person.reader.sign("auth", pin, data=challenge)).decode(),
    }


def buy(client: TestClient, headers: dict[str, str], person: Holder, event: str = "FES-1") -> Any:
    return client.post(
        f"/api/tickets/events/{event}/tickets",
        json={**proof(client, headers, event, "bind", person), "seat": "A-1"},
        headers=headers,
    )


def door(client: TestClient, headers: dict[str, str], person: Holder, event: str = "FES-1") -> Any:
    return client.post(
        f"/api/tickets/events/{event}/enter", json=proof(client, headers, event, "enter", person), headers=headers
    )


def _reads(db: Session, admitted: bool) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(TicketRead).where(TicketRead.admitted.is_(admitted))) or 0


def test_a_ticket_admits_its_holder_once_and_the_holder_sees_it(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    holder: Callable[..., Holder],  # noqa: F811
) -> None:
    person = holder()
    bought = buy(client, headers[LIVE], person)
    assert bought.status_code == 201, bought.text
    ticket = bought.json()
    assert ticket["status"] == "valid" and ticket["seat"] == "A-1" and ticket["event"] == "FES-1"
    # bound to a pseudonym at this organiser: neither the platform's subject nor the certificate's serial
    assert person.card.subject not in ticket["holder"] and person.card.auth_serial not in ticket["holder"]
    listed = client.get("/api/tickets/events/FES-1/tickets", headers=headers[LIVE]).json()
    assert [t["number"] for t in listed] == [ticket["number"]]

    body = proof(client, headers[LIVE], "FES-1", "enter", person)
    admitted = client.post("/api/tickets/events/FES-1/enter", json=body, headers=headers[LIVE])
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["admitted"] is True and admitted.json()["ticket"] == ticket["number"]
    replayed = client.post("/api/tickets/events/FES-1/enter", json=body, headers=headers[LIVE])
    assert replayed.status_code == 409 and replayed.json()["reason"] == "replayed"
    twice = door(client, headers[LIVE], person)
    assert twice.status_code == 409 and twice.json()["reason"] == "already-used"
    assert twice.json()["admitted"] is False and twice.json()["type"].endswith("ticket-used")
    assert _reads(db, True) == 1 and _reads(db, False) == 2

    actions = [e.action for e in audit.events_for(db, person.card.subject)]
    assert actions.count(service.ENTER_ACTION) == 2 and service.BIND_ACTION in actions
    card_login(client, person)
    history = client.get("/portal/history", headers={"accept": "text/html"}).text
    assert f"{LIVE}: チケットの購入（カードに結び付け）" in history and f"{LIVE}: 会場入場口での読み取り" in history


def test_the_pseudonym_is_per_organiser_and_one_ticket_a_holder(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    holder: Callable[..., Holder],  # noqa: F811
) -> None:
    person = holder()
    here = buy(client, headers[LIVE], person).json()["holder"]
    there = buy(client, headers[OTHER], person, "OTHER-1").json()["holder"]
    assert here != there
    again = buy(client, headers[LIVE], person)
    assert again.status_code == 409 and again.json()["reason"] == "already-holds"
    buy(client, headers[LIVE], holder())
    buy(client, headers[LIVE], holder())
    sold_out = buy(client, headers[LIVE], holder())
    assert sold_out.status_code == 409 and sold_out.json()["reason"] == "sold-out"


def test_the_official_resale_rebinds_and_someone_elses_ticket_is_refused(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    holder: Callable[..., Holder],  # noqa: F811
) -> None:
    seller, buyer, stranger = holder(), holder(), holder()
    number = buy(client, headers[LIVE], seller).json()["number"]
    assert door(client, headers[LIVE], buyer).json()["reason"] == "no-ticket"

    def hand_on(step: str, person: Holder) -> Any:
        body = proof(client, headers[LIVE], "FES-1", step, person)
        return client.post(f"/api/tickets/{number}/{step}", json=body, headers=headers[LIVE])

    not_listed = hand_on("transfer", buyer)
    assert not_listed.status_code == 409 and not_listed.json()["reason"] == "valid"
    not_theirs = hand_on("resale", stranger)
    assert not_theirs.status_code == 403 and not_theirs.json()["reason"] == "not-holder"
    assert hand_on("resale", seller).json()["status"] == "listed"
    listed = door(client, headers[LIVE], seller)
    assert listed.status_code == 403 and listed.json()["reason"] == "listed"
    moved = hand_on("transfer", buyer)
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "valid" and moved.json()["transfers"] == 1
    assert door(client, headers[LIVE], seller).json()["reason"] == "no-ticket"
    assert door(client, headers[LIVE], buyer).json()["admitted"] is True
    # another organiser cannot see, sell or move this organiser's tickets
    assert client.get("/api/tickets/events/FES-1/tickets", headers=headers[OTHER]).status_code == 403
    body = proof(client, headers[OTHER], "OTHER-1", "resale", buyer)
    assert client.post(f"/api/tickets/{number}/resale", json=body, headers=headers[OTHER]).status_code == 404
    assert [e.action for e in audit.events_for(db, seller.card.subject)].count(service.RESALE_ACTION) == 1
    assert service.TRANSFER_ACTION in [e.action for e in audit.events_for(db, buyer.card.subject)]


def test_a_revoked_card_is_refused_with_the_reason_and_nothing_changes(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    holder: Callable[..., Holder],  # noqa: F811
    town_headers: dict[str, str],
) -> None:
    person = holder()
    number = buy(client, headers[LIVE], person).json()["number"]
    body = proof(client, headers[LIVE], "FES-1", "enter", person)
    revoked = client.post(f"/api/cards/{person.card.id}/revoke", json={"reason": "returned"}, headers=town_headers)
    assert revoked.status_code == 200, revoked.text
    refused = client.post("/api/tickets/events/FES-1/enter", json=body, headers=headers[LIVE])
    assert refused.status_code == 401, refused.text
    assert refused.json()["admitted"] is False and refused.json()["reason"] in ("certificate", "card")
    assert refused.json()["type"].endswith("ticket-card-refused")
    tickets = client.get("/api/tickets/events/FES-1/tickets", headers=headers[LIVE]).json()
    assert [(t["number"], t["status"]) for t in tickets] == [(number, "valid")]
    assert _reads(db, False) == 1 and _reads(db, True) == 0
    # the holder's new card matches the same ticket: the pseudonym names the person, not the card
    renewed = holder(resident_id=person.resident_id)
    assert renewed.card.id != person.card.id and renewed.card.auth_serial != person.card.auth_serial
    admitted = door(client, headers[LIVE], renewed)
    assert admitted.status_code == 200 and admitted.json()["ticket"] == number


def test_bad_input_is_4xx_and_changes_nothing(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    holder: Callable[..., Holder],  # noqa: F811
) -> None:
    person = holder()
    garbled = {"challenge": "!!", "certificate": "", "signature": ""}
    answer = client.post("/api/tickets/events/FES-1/enter", json=garbled, headers=headers[LIVE])
    assert answer.status_code == 400 and answer.json()["admitted"] is False
    assert client.post("/api/tickets/events/FES-1/tickets", json=garbled, headers=headers[LIVE]).status_code == 400
    # a challenge issued for a sale does not open the door (the challenge names its purpose)
    sale = proof(client, headers[LIVE], "FES-1", "bind", person)
    wrong = client.post("/api/tickets/events/FES-1/enter", json=sale, headers=headers[LIVE])
    assert wrong.status_code == 401 and wrong.json()["reason"] == "unknown-challenge"
    # a signature over another challenge
    forged = {**proof(client, headers[LIVE], "FES-1", "enter", person), "signature": sale["signature"]}
    assert client.post("/api/tickets/events/FES-1/enter", json=forged, headers=headers[LIVE]).status_code == 401
    wrong_purpose = {"purpose": "steal"}
    challenge_url = "/api/tickets/events/FES-1/challenge"
    assert client.post(challenge_url, json=wrong_purpose, headers=headers[LIVE]).status_code == 422
    assert client.post(challenge_url, json={"purpose": "enter"}, headers=headers[OTHER]).status_code == 403
    assert client.post(challenge_url, json={"purpose": "enter"}).status_code == 401
    assert (
        client.post("/api/tickets/events/NOPE/challenge", json={"purpose": "enter"}, headers=headers[LIVE]).status_code
        == 404
    )
    for bad in ({**EVENT, "code": "bad code"}, {**EVENT, "name": "a\x00b"}, {**EVENT, "starts_at": "2030-08-01T17:30"}):
        assert client.post("/api/tickets/events", json=bad, headers=headers[LIVE]).status_code == 422
    assert client.post("/api/tickets/events", json=EVENT, headers=headers[LIVE]).status_code == 409
    assert client.post("/api/tickets/TNOPE/transfer", json=sale, headers=headers[LIVE]).status_code == 404
    assert client.get("/api/tickets/events/FES-1/tickets", headers=headers[LIVE]).json() == []
    events = client.get("/api/tickets/events").json()
    assert [(e["code"], e["starts_at"]) for e in events] == [
        ("FES-1", EVENT["starts_at"]),
        ("OTHER-1", EVENT["starts_at"]),
    ]


def test_cli_ticket_bind_enter_and_list(env: dict[str, str]) -> None:  # noqa: F811
    card_id, _ = _card(env)
    context = open_context(Settings())
    with unit_of_work(context.session_factory) as session:
        orgs.add_organisation(session, keys=context.keys, code=LIVE, name="Live", kind="organiser")
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            *("ticket", "event", "--organiser", LIVE, "--code", "FES-1", "--name", "夏フェス", "--venue", "武道館"),
            *("--starts-at", "2030-08-01T17:30:00", "--capacity", "10"),
        ],
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["ticket", "events"])
    assert listed.exit_code == 0 and listed.stdout.split("\t")[:3] == ["FES-1", LIVE, "2030-08-01T17:30:00+09:00"]
    refused = runner.invoke(app, ["ticket", "enter", "--card", str(card_id), "--pin", "1234", "--event", "FES-1"])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["reason"] == "no-ticket"
    bound = runner.invoke(app, ["ticket", "bind", "--card", str(card_id), "--pin", "1234", "--event", "FES-1"])
    assert bound.exit_code == 0, bound.output
    number = bound.stdout.split("\t")[0]
    assert runner.invoke(app, ["ticket", "list", "--event", "FES-1"]).stdout.startswith(number)
    admitted = runner.invoke(app, ["ticket", "enter", "--card", str(card_id), "--pin", "1234", "--event", "FES-1"])
    assert admitted.exit_code == 0, admitted.stdout
    assert json.loads(admitted.stdout) | {"entry_id": 0} == {
        "admitted": True,
        "reason": "admitted",
        "event": "FES-1",
        "ticket": number,
        "seat": "",
        "entry_id": 0,
    }
    again = runner.invoke(app, ["ticket", "enter", "--card", str(card_id), "--pin", "1234", "--event", "FES-1"])
    assert again.exit_code == 1 and json.loads(again.stdout)["reason"] == "already-used"
