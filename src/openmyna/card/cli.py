"""``openmyna card …``: list cards, write a certificate out, report a loss, and use a card through the reader."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rich.console import Console

from openmyna.card import service
from openmyna.card.chip import ChipError
from openmyna.card.reader import VirtualReader
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller

app = typer.Typer(help="My Number Cards: lifecycle and the virtual reader.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _operator(org: str) -> Caller:
    return Caller(org_code=org, actor="cli:operator", scopes=frozenset(), via="cli")


def _fail(exc: DomainError) -> None:
    err.print(f"[red]{exc.title_en}[/red]: {exc.detail}")
    raise typer.Exit(1)


@app.command("list")
def list_cards(resident: int | None = typer.Option(None, help="Only this resident's cards (resident id)")) -> None:
    """One card a line: card id, holder's resident code, state."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        for card in service.list_cards(session, resident_id=resident, limit=100000):
            typer.echo(f"{card.id}\t{card.resident_code}\t{card.state}")


@app.command("cert")
def cert(
    card_id: int,
    kind: str = typer.Option(..., help="auth or sign"),
    out: Path = typer.Option(..., help="Where to write the PEM certificate"),
) -> None:
    """Write the card's current certificate of KIND as PEM."""
    if kind not in ("auth", "sign"):
        err.print("--kind is auth or sign")
        raise typer.Exit(2)
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            der = service.certificate_der(session, card_id=card_id, kind=kind)  # type: ignore[arg-type]
    except DomainError as exc:
        _fail(exc)
    out.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
    console.print(f"wrote {kind} certificate of card {card_id} to {out}")


@app.command("report-lost")
def report_lost(card_id: int, via: str = typer.Option("hotline", help="holder or hotline (24-hour line)")) -> None:
    """Suspend the card and put its certificates on hold (revoked until the card is found)."""
    context = open_context()
    config = CaConfig.from_settings(context.settings, context.keys)
    try:
        with unit_of_work(context.session_factory) as session:
            card = service.report_lost(
                session, config=config, card_id=card_id, caller=_operator(context.settings.municipality_code), via=via
            )
            state = card.state
    except DomainError as exc:
        _fail(exc)
    console.print(f"card {card_id}: {state}; certificates revoked (certificateHold)")


@app.command("resume")
def resume(card_id: int) -> None:
    """The card was found: lift the suspension and the holds."""
    context = open_context()
    config = CaConfig.from_settings(context.settings, context.keys)
    try:
        with unit_of_work(context.session_factory) as session:
            service.resume(
                session, config=config, card_id=card_id, caller=_operator(context.settings.municipality_code)
            )
    except DomainError as exc:
        _fail(exc)
    console.print(f"card {card_id}: in use again")


@app.command("sign")
def sign(
    card: int = typer.Option(..., help="Card id"),
    pin: str = typer.Option(..., help="The PIN of the key used"),
    kind: str = typer.Option("sign", help="sign (document signature) or auth (login challenge)"),
    file: Path | None = typer.Option(None, help="Sign the SHA-256 digest of this file"),
    challenge: str | None = typer.Option(None, help="Sign this challenge text instead"),
) -> None:
    """Sign a document digest or a challenge with the card's key; prints base64 of the signature."""
    if (file is None) == (challenge is None) or kind not in ("auth", "sign"):
        err.print("give exactly one of --file or --challenge; --kind is auth or sign")
        raise typer.Exit(2)
    context = open_context()
    reader = VirtualReader(context.session_factory, context.keys, card)
    try:
        if file is not None:
            signature = reader.sign(kind, pin, digest=hashlib.sha256(file.read_bytes()).digest())  # type: ignore[arg-type]
        else:
            signature = reader.sign(kind, pin, data=(challenge or "").encode())  # type: ignore[arg-type]
    except (ChipError, DomainError) as exc:
        _fail(exc)
    typer.echo(base64.b64encode(signature).decode())


@app.command("face")
def face(card: int = typer.Option(..., help="Card id"), pin: str = typer.Option(..., help="4-digit PIN")) -> None:
    """Read the 券面事項入力補助 AP: My Number and the four facts (JSON)."""
    context = open_context()
    try:
        typer.echo(
            json.dumps(VirtualReader(context.session_factory, context.keys, card).read_face(pin), ensure_ascii=False)
        )
    except DomainError as exc:
        _fail(exc)


@app.command("reader-serve")
def reader_serve(
    card: int = typer.Option(..., help="The card 'inserted' in the reader"),
    port: int = typer.Option(8765),
    allow_origin: list[str] = typer.Option(None, help="Origins whose pages may use the reader (default: base URL)"),
) -> None:
    """Serve the local card-reader endpoint on 127.0.0.1 for web pages that log in with the card."""
    import uvicorn

    from openmyna.card.reader_http import create_reader_app

    context = open_context()
    reader = VirtualReader(context.session_factory, context.keys, card)
    origins = allow_origin or [context.settings.base_url.rstrip("/")]
    console.print(f"card reader for card {card} on http://127.0.0.1:{port} (origins: {', '.join(origins)})")
    uvicorn.run(create_reader_app(reader, allowed_origins=origins), host="127.0.0.1", port=port, log_level="warning")
