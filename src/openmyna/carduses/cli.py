"""``openmyna gate …``: a card read at a gate from the command line, the gates, and employee IDs."""

from __future__ import annotations

import json

import typer

from openmyna.card.reader import VirtualReader
from openmyna.carduses import service
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder

app = typer.Typer(help="Gates and employee IDs on the card (社員証・入退館証).", no_args_is_help=True)


def refusal_json(error: DomainError, entry_id: int | None = None) -> str:
    reason = str(error.extensions.get("reason", error.slug))
    return json.dumps(
        {"admitted": False, "reason": reason, "detail": error.detail, "type": error.slug, "entry_id": entry_id},
        ensure_ascii=False,
    )


@app.command("enter")
def enter(
    card: int = typer.Option(..., help="The card held to the gate's reader (card id)"),
    pin: str = typer.Option(..., help="The card's 4-digit PIN"),
    gate: str = typer.Option(..., help="The gate's code"),
) -> None:
    """Read the card at GATE: prints one JSON object with ``admitted`` and ``reason`` (exit 1 when refused)."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            challenge, _expires = service.open_challenge(session, gate=gate)
            employer = service.get_gate(session, gate).employer_org
    except DomainError as exc:
        typer.echo(refusal_json(exc))
        raise typer.Exit(1) from exc
    reader = VirtualReader(context.session_factory, context.keys, card)
    try:
        certificate = reader.certificate("auth")
        try:
            app_data = reader.read_app(service.app_name(employer))
        except DomainError:
            app_data = {}
        signature = reader.sign("auth", pin, data=challenge)
    except DomainError as exc:
        typer.echo(refusal_json(exc))
        raise typer.Exit(1) from exc
    responder = Responder(context.read_session_factory, CaConfig.from_settings(context.settings, context.keys))
    with unit_of_work(context.session_factory) as session:
        outcome = service.enter(
            session,
            responder=responder,
            gate=gate,
            challenge=challenge,
            certificate=certificate,
            signature=signature,
            app=app_data,
        )
    if isinstance(outcome, service.Refused):
        typer.echo(refusal_json(outcome.error, outcome.entry_id))
        raise typer.Exit(1)
    typer.echo(json.dumps(outcome.as_json(), ensure_ascii=False))


@app.command("list")
def list_gates() -> None:
    """One gate a line: code, employer, name."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        for gate in service.list_gates(session):
            typer.echo(f"{gate.code}\t{gate.employer_org}\t{gate.name}")


@app.command("badge")
def badge(
    employer: str = typer.Option(..., help="The employer's (or ministry's) organisation code"),
    card: int = typer.Option(..., help="The employee's card (card id)"),
    employee_id: str = typer.Option(..., help="The employee ID written to the card"),
) -> None:
    """Write an employee ID into the card's free space and register it."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            service.register_badge(session, keys=context.keys, employer=employer, card_id=card, employee_id=employee_id)
    except DomainError as exc:
        typer.echo(f"{exc.title_en}: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{employer}\t{employee_id}\tcard {card}")


@app.command("revoke")
def revoke(employer: str = typer.Option(...), employee_id: str = typer.Option(...)) -> None:
    """Revoke an employee ID: every gate refuses it from now on."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            service.revoke_badge(session, employer=employer, employee_id=employee_id)
    except DomainError as exc:
        typer.echo(f"{exc.title_en}: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{employer}\t{employee_id}\trevoked")
