"""``openmyna ekyc …``: a business's account opening, status check and login through the operator, and its registry."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer

from openmyna.card.chip import ChipError
from openmyna.card.reader import VirtualReader
from openmyna.core.context import AppContext, open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.ekyc import service
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder

app = typer.Typer(help="Private identity verification through a platform operator (公的個人認証の民間利用).")


def _refused(error: DomainError, use_id: int | None = None) -> NoReturn:
    """Print the refusal as the API's problem fields, and exit 1."""
    problem: dict[str, Any] = {"type": error.slug, "title": error.title_en, "detail": error.detail, "use_id": use_id}
    problem.update(error.extensions)
    typer.echo(json.dumps(problem, ensure_ascii=False, default=str))
    raise typer.Exit(1)


def _config(context: AppContext) -> CaConfig:
    return CaConfig.from_settings(context.settings, context.keys)


def _challenge(context: AppContext, business: str, purpose: service.Purpose) -> bytes:
    try:
        with unit_of_work(context.session_factory) as session:
            return service.open_challenge(session, business=business, purpose=purpose)[0]
    except DomainError as exc:
        _refused(exc)


@app.command("open-account")
def open_account(
    card: int = typer.Option(..., help="The customer's card on the reader (card id)"),
    pin: str = typer.Option(..., help="The signing PIN (6–16 letters and digits)"),
    business: str = typer.Option(..., help="The business's code, e.g. openmyna-bank"),
    application: str = typer.Option("普通預金口座開設", help="What the customer applies for (signed)"),
    facts: str = typer.Option("", help="Facts wanted, comma-separated (default: all the business may receive)"),
) -> None:
    """Account opening (eKYC): the card signs, the operator verifies; prints one JSON object (exit 1 if refused)."""
    context = open_context()
    challenge = _challenge(context, business, "account_opening")
    reader = VirtualReader(context.session_factory, context.keys, card)
    try:
        certificate = reader.certificate("sign", pin=pin)
        signature = reader.sign("sign", pin, data=challenge + b"\n" + application.encode())
    except (ChipError, DomainError) as exc:  # the chip refused: nothing reached the operator
        _refused(exc)
    responder = Responder(context.read_session_factory, _config(context))
    with unit_of_work(context.session_factory) as session:
        outcome = service.verify(
            session,
            config=_config(context),
            responder=responder,
            business=business,
            actor=f"cli:{business}"[:128],
            challenge=challenge,
            application=application,
            certificate=certificate,
            signature=signature,
            facts=facts.split(",") if facts else None,
        )
    if isinstance(outcome, service.Refused):
        _refused(outcome.error, outcome.use_id)
    answer = {
        "verification_id": outcome.ref,
        "pseudonym": outcome.pseudonym,
        "facts": outcome.facts,
        "certificate_serial": outcome.certificate_serial,
    }
    typer.echo(json.dumps(answer, ensure_ascii=False))


@app.command("status")
def status(
    business: str = typer.Option(..., help="The business's code"),
    verification: str = typer.Option(..., help="The verification id the business kept"),
) -> None:
    """Has the customer's signing certificate been revoked or replaced since? Prints one JSON object."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        found = service.status(
            session, config=_config(context), business=business, actor=f"cli:{business}"[:128], ref=verification
        )
    if isinstance(found, service.Refused):
        _refused(found.error, found.use_id)
    answer = {
        "verification_id": found.ref,
        "status": found.status,
        "reason": found.reason,
        "replaced_by": {"serial": found.replaced_by_serial, "facts": found.replaced_by_facts}
        if found.replaced_by_serial
        else None,
    }
    typer.echo(json.dumps(answer, ensure_ascii=False))


@app.command("login")
def login(
    card: int = typer.Option(..., help="The customer's card on the reader (card id)"),
    pin: str = typer.Option(..., help="The card's 4-digit PIN"),
    business: str = typer.Option(..., help="The business's code"),
) -> None:
    """Login with the authentication certificate: prints the business's pseudonym of the holder."""
    context = open_context()
    challenge = _challenge(context, business, "login")
    reader = VirtualReader(context.session_factory, context.keys, card)
    try:
        certificate = reader.certificate("auth")
        signature = reader.sign("auth", pin, data=challenge)
    except (ChipError, DomainError) as exc:
        _refused(exc)
    responder = Responder(context.read_session_factory, _config(context))
    with unit_of_work(context.session_factory) as session:
        outcome = service.login(
            session,
            keys=context.keys,
            responder=responder,
            business=business,
            actor=f"cli:{business}"[:128],
            challenge=challenge,
            certificate=certificate,
            signature=signature,
        )
    if isinstance(outcome, service.Refused):
        _refused(outcome.error, outcome.use_id)
    typer.echo(json.dumps({"pseudonym": outcome.pseudonym, "business": business}, ensure_ascii=False))


@app.command("businesses")
def businesses() -> None:
    """One registered business a line: code, operator, kind, facts it may receive, name."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        for row in service.list_businesses(session):
            typer.echo(
                f"{row.code}\t{row.operator_org}\t{row.kind}\t{','.join(service.allowed_facts(row))}\t{row.name}"
            )


@app.command("register")
def register(
    operator: str = typer.Option(..., help="The platform operator's organisation code"),
    code: str = typer.Option(..., help="The business's organisation code (made if new, kind business)"),
    name: str = typer.Option(..., help="The business's name"),
    kind: str = typer.Option(..., help=f"One of: {', '.join(service.BUSINESS_KINDS)}"),
    facts: str = typer.Option(..., help="The facts it may receive, comma-separated: name,birth_date,sex,address"),
) -> None:
    """Register a business with a platform operator for some of the four facts."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            row = service.register_business(
                session, keys=context.keys, operator=operator, code=code, name=name, kind=kind, facts=facts.split(",")
            )
            line = f"{row.code}\t{row.operator_org}\t{row.kind}\t{','.join(service.allowed_facts(row))}"
    except DomainError as exc:
        typer.echo(f"{exc.title_en}: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(line)
