"""``openmyna health …``: the reception terminal's path from the command line, and the registered clinics."""

from __future__ import annotations

import json
from typing import Any

import typer

from openmyna.card.chip import ChipError
from openmyna.card.reader import VirtualReader
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.health import insurers, service
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder

app = typer.Typer(help="Health-insurance online eligibility (オンライン資格確認).", no_args_is_help=True)


def refusal_json(error: DomainError, check_id: int | None = None) -> dict[str, Any]:
    """A refused check as the terminal shows it: not insured as far as this check can tell, and why."""
    return {
        "insured": False,
        "insurer_number": None,
        "burden_ratio": None,
        "refused": True,
        "type": error.slug,
        "title": error.title_en,
        "title_ja": error.title_ja,
        "reason": error.detail,
        "check_id": check_id,
    }


@app.command("check")
def check(
    card: int = typer.Option(..., help="The card on the reception terminal's reader (card id)"),
    pin: str = typer.Option(..., help="The card's 4-digit PIN, typed by the patient"),
    clinic: str = typer.Option(..., help="The medical institution code of the terminal"),
    share: bool = typer.Option(False, "--share/--no-share", help="The patient agrees to share medicine records"),
    face_check: str = typer.Option("not_used", help="The terminal's face check: not_used, matched or not_matched"),
) -> None:
    """Read the card, have it sign a fresh challenge, and ask the clearing house; prints one JSON object."""
    context = open_context()
    outcome: service.Eligibility | service.Refused
    try:
        with unit_of_work(context.session_factory) as session:
            opened = service.open_challenge(session, clinic=clinic, share=share)
    except DomainError as exc:
        with unit_of_work(context.session_factory) as session:
            outcome = service.record_refusal(session, clinic=clinic, error=exc)
        typer.echo(json.dumps(refusal_json(exc, outcome.check_id), ensure_ascii=False))
        raise typer.Exit(1) from exc
    reader = VirtualReader(context.session_factory, context.keys, card)
    try:
        certificate = reader.certificate("auth")
        signature = reader.sign("auth", pin, data=opened.challenge)
    except (ChipError, DomainError) as exc:  # the chip refused: nothing reached the clearing house
        typer.echo(json.dumps(refusal_json(exc), ensure_ascii=False))
        raise typer.Exit(1) from exc
    responder = Responder(context.read_session_factory, CaConfig.from_settings(context.settings, context.keys))
    with unit_of_work(context.session_factory) as session:
        outcome = service.check(
            session,
            keys=context.keys,
            responder=responder,
            clinic=clinic,
            challenge=opened.challenge,
            certificate=certificate,
            signature=signature,
            face_check=face_check,
            actor="cli:reception",
        )
    if isinstance(outcome, service.Refused):
        typer.echo(json.dumps(refusal_json(outcome.error, outcome.check_id), ensure_ascii=False))
        raise typer.Exit(1)
    typer.echo(json.dumps(outcome.as_json(), ensure_ascii=False))


@app.command("clinics")
def clinics() -> None:
    """One registered medical institution a line: code, then name."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        for org in service.list_clinics(session):
            typer.echo(f"{org.code}\t{org.name}")


@app.command("insurers")
def list_insurers() -> None:
    """One insurer a line: organisation code, insurer number, scheme, name."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        for row in insurers.list_insurers(session):
            typer.echo(f"{row['code']}\t{row['insurer_number']}\t{row['scheme']}\t{row['name']}")
