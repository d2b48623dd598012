"""``openmyna eservice …``: the catalogue, example form data, applying with a card, and exporting a signature."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

import typer

from openmyna.card.chip import ChipError
from openmyna.card.reader import VirtualReader
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.eservice import service
from openmyna.eservice.catalogue import CatalogueError
from openmyna.jpki.authority import CaConfig

app = typer.Typer(help="Online applications (ぴったりサービス): catalogue, apply, signatures.", no_args_is_help=True)


def _fail(exc: DomainError | CatalogueError | ValueError, code: int = 1) -> None:
    message = f"{exc.title_en}: {exc.detail}" if isinstance(exc, DomainError) else str(exc)
    extra = getattr(exc, "extensions", {}).get("errors")
    typer.echo(message + (f" {json.dumps(extra, ensure_ascii=False)}" if extra else ""), err=True)
    raise typer.Exit(code)


def _catalogue() -> Any:
    try:
        return service.catalogue_for(open_context().settings)
    except CatalogueError as exc:
        _fail(exc, 2)


@app.command("procedures")
def procedures(municipality: str | None = typer.Option(None, help="Only this municipality's procedures")) -> None:
    """One procedure a line: code, municipality, department, Japanese name."""
    for entry in _catalogue().of(municipality):
        p = entry.procedure
        typer.echo(f"{p.code}\t{entry.municipality}\t{p.department.code}\t{p.name_ja}")


def _entry(code: str, municipality: str | None) -> Any:
    catalogue = _catalogue()
    found = [e for e in catalogue.find(code) if municipality is None or e.municipality == municipality]
    if not found:
        _fail(service.UnknownProcedure(f"no procedure {code!r}"))
    return found[0]


@app.command("example")
def example(code: str, municipality: str | None = typer.Option(None, help="The offering municipality")) -> None:
    """Print a valid example of CODE's form data as JSON."""
    typer.echo(json.dumps(_entry(code, municipality).procedure.example, ensure_ascii=False, indent=2))


@app.command("apply")
def apply(
    card: int = typer.Option(..., help="The card 'inserted' in the virtual reader (card id)"),
    pin: str = typer.Option(..., help="The signing certificate's PIN (6–16 characters)"),
    procedure: str = typer.Option(..., help="Procedure code (see `openmyna eservice procedures`)"),
    data: Path = typer.Option(..., help="The form data (JSON file)", exists=True, dir_okay=False),
    municipality: str | None = typer.Option(None, help="The offering municipality (default: the one offering it)"),
    idempotency_key: str | None = typer.Option(None, help="Resubmitting with the same key returns the first receipt"),
    attach: list[str] = typer.Option([], help="CODE=FILE: a file for the procedure's attachment CODE (repeatable)"),
) -> None:
    """Sign with the card and submit; prints only {"application_id", "receipt_number"} as JSON."""
    entry = _entry(procedure, municipality)
    try:
        form = json.loads(data.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(ValueError(f"{data}: not JSON: {exc}"), 2)
    uploads = []
    for item in attach:
        code, _, name = item.partition("=")
        path = Path(name)
        if not code or not path.is_file():
            _fail(ValueError(f"--attach {item!r}: give CODE=FILE with an existing file"), 2)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        uploads.append(service.Upload(entry.procedure.code, code, path.name, media_type, path.read_bytes()))
    context = open_context()
    submission = service.Submission(
        municipality=entry.municipality,
        procedures=[entry.procedure.code],
        data={entry.procedure.code: form},
        uploads=uploads,
        signature=b"",
        idempotency_key=idempotency_key,
        via="cli",
    )
    try:
        receipt = service.apply_with_reader(
            context.session_factory,
            catalogue=service.catalogue_for(context.settings),
            config=CaConfig.from_settings(context.settings, context.keys),
            reader=VirtualReader(context.session_factory, context.keys, card),
            pin=pin,
            submission=submission,
        )
    except (ChipError, DomainError) as exc:
        _fail(exc)
    typer.echo(json.dumps({"application_id": receipt.application_id, "receipt_number": receipt.receipt_number}))


@app.command("signature")
def signature(
    application_id: str,
    out: Path = typer.Option(..., help="Directory for content (the signed bytes) and signature.p7s (DER CMS)"),
) -> None:
    """Write an application's exact signed bytes and its detached CMS signature, for `openssl cms -verify`."""
    context = open_context()
    try:
        with unit_of_work(context.read_session_factory) as session:
            application = service.get_application(session, public_id=application_id)
            content, cms = application.content, application.signature
    except DomainError as exc:
        _fail(exc)
    if cms is None:
        _fail(service.ApplicationNotFound(f"application {application_id} carries no signature"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "content").write_bytes(content)
    (out / "signature.p7s").write_bytes(cms)  # type: ignore[arg-type]
    typer.echo(f"{out / 'content'}\n{out / 'signature.p7s'}")
