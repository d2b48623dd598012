"""``openmyna kiosk …``: issue a certificate as a store terminal would, check a QR code offline, revoke a key."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from cryptography import x509
from rich.console import Console

from openmyna.card.reader import VirtualReader
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.jpki.authority import CaConfig
from openmyna.kiosk import centre, documents, qr, runtime, signing, terminal
from openmyna.kiosk.demo import DEFAULT_STORE
from openmyna.kiosk.municipalities import KINDS

app = typer.Typer(
    help="Convenience-store issuance: the kiosk terminal, offline checks, signing keys.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)


def _fail(exc: DomainError) -> None:
    err.print(f"[red]{exc.title_en}[/red] ({exc.title_ja}): {exc.detail}")
    raise typer.Exit(1)


@app.command("issue")
def issue(
    card: int = typer.Option(..., help="The card inserted (card id, as `openmyna card list` shows)"),
    pin: str = typer.Option(..., help="The card's 4-digit PIN (user authentication)"),
    kind: str = typer.Option(..., help=f"One of: {', '.join(KINDS)}"),
    out: Path = typer.Option(..., help="Where to write the signed PDF"),
    store: str = typer.Option(DEFAULT_STORE, help="The store terminal (a kiosk_operator organisation)"),
    copies: int = typer.Option(1, min=1, max=10),
    alone: bool = typer.Option(False, "--alone", help="住民票: this person only (default: the whole household)"),
    my_number: bool = typer.Option(False, "--my-number", help="住民票: print the 個人番号"),
    resident_code: bool = typer.Option(False, "--resident-code", help="住民票: print the 住民票コード"),
    pay: int | None = typer.Option(None, min=0, help="Yen put in (default: exactly the fee)"),
    method: str = typer.Option("cash", help="cash or emoney"),
    request_key: str | None = typer.Option(None, help="Repeat a request's key to retry it (never charged twice)"),
) -> None:
    """Run the whole kiosk → centre → municipality path and write the PDF; exit 1 with the reason if refused."""
    if kind not in KINDS:
        err.print(f"--kind must be one of {', '.join(KINDS)}")
        raise typer.Exit(2)
    context = open_context()
    key = request_key or terminal.new_request_key()
    options = documents.Options(household=not alone, my_number=my_number, resident_code=resident_code)
    reader = VirtualReader(context.session_factory, context.keys, card)
    try:
        signed = terminal.sign_with_card(reader, pin=pin, store=store, request_key=key, kind=kind, copies=copies)
    except DomainError as exc:
        terminal.record_refusal(context.session_factory, store=store, request_key=key, kind=kind, error=exc)
        _fail(exc)
        return
    with unit_of_work(context.session_factory) as session:
        client = runtime.centre_for(
            session,
            settings=context.settings,
            keys=context.keys,
            store=store,
            read_sessions=context.read_session_factory,
        )
    request = centre.CardRequest(
        store=store,
        request_key=key,
        signed_at=signed.signed_at,
        kind=kind,
        options=options,
        copies=copies,
        tendered=pay,
        certificate=signed.certificate,
        signature=signed.signature,
    )
    try:
        printed = terminal.issue(context.session_factory, centre_client=client, request=request, method=method)
    except DomainError as exc:
        _fail(exc)
        return
    out.write_bytes(printed.pdf)
    typer.echo(
        json.dumps(
            {
                "number": printed.number,
                "kind": printed.kind,
                "fee": printed.fee,
                "charged": printed.charged,
                "change": printed.change,
                "replayed": printed.replayed,
                "request_key": key,
                "out": str(out),
            },
            ensure_ascii=False,
        )
    )


@app.command("check-qr")
def check_qr(
    text: str = typer.Argument(..., help="The QR code's text (e.g. from `zbarimg --raw`); - reads standard input"),
    certs: Path = typer.Option(..., help="The published certificates (GET /kiosk/ca.pem), PEM"),
) -> None:
    """Check a certificate's QR code offline: the municipality's signature and its key's CA. Exit 1 if not."""
    if text == "-":
        text = typer.get_text_stream("stdin").read()
    text = text.strip().removeprefix("QR-Code:")
    try:
        checked = qr.check(text, certificates=x509.load_pem_x509_certificates(certs.read_bytes()))
    except DomainError as exc:
        _fail(exc)
        return
    typer.echo(json.dumps({"valid": True, **checked.claims}, ensure_ascii=False))


@app.command("trust")
def trust(out: Path = typer.Option(..., help="Where to write the PEM bundle")) -> None:
    """Write the trust anchors and signing certificates (as GET /kiosk/ca.pem serves them)."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        out.write_bytes(signing.trust_pem(session, config=CaConfig.from_settings(context.settings, context.keys)))


@app.command("revoke-key")
def revoke_key(
    municipality: str = typer.Argument(..., help="The municipality's code"),
    reason: str = typer.Option("key_compromise", help="RFC 5280 reason"),
) -> None:
    """Revoke a municipality's document-signing key (the next certificate is signed with a new one)."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            serial = signing.revoke(
                session, config=CaConfig.from_settings(context.settings, context.keys), code=municipality, reason=reason
            )
    except DomainError as exc:
        _fail(exc)
        return
    typer.echo(json.dumps({"revoked": serial}))
