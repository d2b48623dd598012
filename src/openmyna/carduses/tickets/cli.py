"""``openmyna ticket …``: the organiser's events, selling a ticket to a card, the official resale, the door."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import typer

from openmyna.card.reader import VirtualReader
from openmyna.carduses.cli import refusal_json
from openmyna.carduses.tickets import service
from openmyna.core.context import AppContext, open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder

app = typer.Typer(help="Ticketless entry with the card (チケットレス).", no_args_is_help=True)
CARD = typer.Option(..., help="The card held to the reader (card id)")
PIN = typer.Option(..., help="The card's 4-digit PIN")


def _fail(error: DomainError) -> typer.Exit:
    typer.echo(f"{error.title_en}: {error.detail}", err=True)
    return typer.Exit(1)


def _proof(context: AppContext, *, card: int, pin: str, event: str, purpose: str) -> service.Proof:
    """Open a challenge for ``purpose`` at ``event`` and have the card sign it, as the organiser's reader does."""
    with unit_of_work(context.session_factory) as session:
        challenge, _expires = service.open_challenge(session, event=event, purpose=purpose)
    reader = VirtualReader(context.session_factory, context.keys, card)
    return service.Proof(challenge, reader.certificate("auth"), reader.sign("auth", pin, data=challenge))


def _responder(context: AppContext) -> Responder:
    return Responder(context.read_session_factory, CaConfig.from_settings(context.settings, context.keys))


def _ticket(ticket: Any, event: str) -> str:
    return f"{ticket.number}\t{event}\t{ticket.status}\t{ticket.seat}\t{ticket.holder}"


@app.command("events")
def events() -> None:
    """One event a line: code, organiser, start, venue, name."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        for event in service.list_events(session):
            typer.echo(
                f"{event.code}\t{event.organiser_org}\t{service.doors_open(event).isoformat()}\t{event.venue}\t{event.name}"
            )


@app.command("event")
def add_event(
    organiser: str = typer.Option(..., help="The organiser's organisation code (kind organiser)"),
    code: str = typer.Option(..., help="The event's code"),
    name: str = typer.Option(...),
    venue: str = typer.Option(...),
    starts_at: dt.datetime = typer.Option(..., help="When the doors open (read as Japan time)"),
    capacity: int = typer.Option(...),
) -> None:
    """Add an event with ``capacity`` tickets."""
    context = open_context()
    when = starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=dt.timezone(dt.timedelta(hours=9)))
    try:
        with unit_of_work(context.session_factory) as session:
            service.add_event(
                session, organiser=organiser, code=code, name=name, venue=venue, starts_at=when, capacity=capacity
            )
    except DomainError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{code}\t{organiser}\t{name}")


@app.command("bind")
def bind(card: int = CARD, pin: str = PIN, event: str = typer.Option(...), seat: str = typer.Option("")) -> None:
    """Sell a ticket of EVENT to the card's holder (the card proves them); prints the ticket line."""
    context = open_context()
    try:
        proof = _proof(context, card=card, pin=pin, event=event, purpose="bind")
        with unit_of_work(context.session_factory) as session:
            ticket = service.bind(
                session, keys=context.keys, responder=_responder(context), event=event, proof=proof, seat=seat
            )
            line = _ticket(ticket, event)
    except DomainError as exc:
        raise _fail(exc) from exc
    typer.echo(line)


def _hand_on(card: int, pin: str, number: str, purpose: str) -> None:
    context = open_context()
    step = service.list_for_resale if purpose == "resale" else service.transfer
    try:
        with unit_of_work(context.session_factory) as session:
            _ticket_row, event = service.get_ticket(session, number)
            code, organiser = event.code, event.organiser_org
        proof = _proof(context, card=card, pin=pin, event=code, purpose=purpose)
        with unit_of_work(context.session_factory) as session:
            ticket = step(
                session,
                keys=context.keys,
                responder=_responder(context),
                organiser=organiser,
                number=number,
                proof=proof,
            )
            line = _ticket(ticket, code)
    except DomainError as exc:
        raise _fail(exc) from exc
    typer.echo(line)


@app.command("resale")
def resale(card: int = CARD, pin: str = PIN, ticket: str = typer.Option(..., help="The ticket number")) -> None:
    """The holder's card lists the ticket for the organiser's official resale."""
    _hand_on(card, pin, ticket, "resale")


@app.command("transfer")
def transfer(card: int = CARD, pin: str = PIN, ticket: str = typer.Option(..., help="The ticket number")) -> None:
    """The buyer's card: the listed ticket is re-bound to its holder."""
    _hand_on(card, pin, ticket, "transfer")


@app.command("enter")
def enter(card: int = CARD, pin: str = PIN, event: str = typer.Option(..., help="The event's code")) -> None:
    """Read the card at EVENT's door: prints one JSON object with ``admitted`` and ``reason`` (exit 1 when refused)."""
    context = open_context()
    try:
        proof = _proof(context, card=card, pin=pin, event=event, purpose="enter")
    except DomainError as exc:
        typer.echo(refusal_json(exc))
        raise typer.Exit(1) from exc
    with unit_of_work(context.session_factory) as session:
        outcome = service.enter(session, keys=context.keys, responder=_responder(context), event=event, proof=proof)
    if isinstance(outcome, service.Refused):
        typer.echo(refusal_json(outcome.error, outcome.read_id))
        raise typer.Exit(1)
    typer.echo(json.dumps(outcome.as_json(), ensure_ascii=False))


@app.command("list")
def list_tickets(event: str = typer.Option(..., help="The event's code")) -> None:
    """One ticket a line: number, event, status, seat, holder's pseudonym at the organiser."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            lines = [_ticket(t, event) for t in service.tickets_of(session, event=event)]
    except DomainError as exc:
        raise _fail(exc) from exc
    for line in lines:
        typer.echo(line)
