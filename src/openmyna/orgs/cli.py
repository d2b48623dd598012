"""``openmyna org …`` and ``openmyna staff …`` for operators."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from openmyna.core import sessions, throttle
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.core.timefmt import as_utc
from openmyna.orgs import accounts, service

app = typer.Typer(help="Organisations, their keys and access tokens.", no_args_is_help=True)
staff_app = typer.Typer(help="Back-office staff accounts.", no_args_is_help=True)
sessions_app = typer.Typer(help="Back-office sessions: list and revoke.", no_args_is_help=True)
staff_app.add_typer(sessions_app, name="sessions")
console = Console()
err = Console(stderr=True)


@app.command("add")
def add(
    code: str = typer.Option(..., help="Organisation code, e.g. a local-government code"),
    name: str = typer.Option(..., help="Name (Japanese)"),
    kind: str = typer.Option(..., help=f"One of: {', '.join(service.ORG_KINDS)}"),
    name_en: str = typer.Option("", help="Name in English"),
    key_out: Path | None = typer.Option(None, help="Where to write the new private key (default var/keys/CODE.pem)"),
    public_key: Path | None = typer.Option(None, help="Register this PEM public key instead of generating a pair"),
) -> None:
    """Register an organisation with its own key pair."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        created = service.add_organisation(
            session,
            keys=context.keys,
            code=code,
            name=name,
            kind=kind,
            name_en=name_en,
            public_key=public_key.read_text() if public_key else None,
        )
        scopes = created.organisation.scopes
    if created.private_key_pem:
        target = key_out or context.settings.var_dir / "keys" / f"{code}.pem"
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(created.private_key_pem)
        console.print(f"private key written to {target} (keep it secret)")
    console.print(f"[green]added[/green] {code} ({kind}) with scopes: {scopes or '-'}")


@app.command("list")
def list_organisations() -> None:
    """List organisations and their scopes."""
    context = open_context()
    table = Table("code", "kind", "name", "scopes")
    with unit_of_work(context.session_factory) as session:
        for org in service.list_organisations(session):
            table.add_row(org.code, org.kind, org.name, org.scopes)
    console.print(table)


@app.command("token")
def token(
    code: str = typer.Argument(..., help="The organisation's code (its client_id)"),
    key: Path | None = typer.Option(None, help="Its private key PEM (default: the key the platform holds for it)"),
    url: str | None = typer.Option(None, help="Token endpoint (default: OPENMYNA_BASE_URL/oauth/token)"),
    scope: str | None = typer.Option(None, help="Space-separated scopes to ask for (default: all granted)"),
) -> None:
    """Fetch an access token from a running server with the client-credentials grant and private_key_jwt."""
    context = open_context()
    endpoint = url or context.settings.token_endpoint
    if key is not None:
        private_pem = key.read_bytes()
    else:
        with unit_of_work(context.session_factory) as session:
            private_pem = service.custodial_private_key(context.keys, service.get_organisation(session, code))
    client = oauth_client(code, private_pem, endpoint)
    with client:
        response = client.fetch_token(endpoint, grant_type="client_credentials", scope=scope)
    console.print_json(data=dict(response))


def oauth_client(client_id: str, private_pem: bytes, endpoint: str) -> Any:
    """authlib's OAuth2 client authenticating with private_key_jwt (imported late: only this command needs it)."""
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from joserfc.jwk import import_key

    key = import_key(private_pem, key_type=service.jose_key_type(private_pem))
    return OAuth2Client(
        client_id=client_id, client_secret=key, token_endpoint_auth_method=PrivateKeyJWT(endpoint, alg="ES256")
    )


@staff_app.command("add")
def add_staff(
    org: str = typer.Option(..., help="Organisation code"),
    username: str = typer.Option(...),
    display_name: str = typer.Option(...),
    role: str = typer.Option("clerk", help=f"One of: {', '.join(service.STAFF_ROLES)}"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a back-office login."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        service.add_staff(
            session, org_code=org, username=username, password=password, display_name=display_name, role=role
        )
    console.print(f"[green]added[/green] staff user {username}")


def _operator() -> str:
    """Who acts from this shell, as the audit events name them."""
    return f"operator:{getpass.getuser()}"


def _fail(exc: DomainError) -> None:
    err.print(f"[red]{exc.title_en}[/red]: {exc.detail}")
    raise typer.Exit(1)


@staff_app.command("unlock")
def unlock(
    username: str | None = typer.Argument(None, help="The account to unlock"),
    address: str | None = typer.Option(None, help="Unlock this client address instead"),
) -> None:
    """Lift the login lockout of an account (or of a client address) and forget its failed logins."""
    if (username is None) == (address is None):
        raise typer.BadParameter("give either a user name or --address")
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        lifted = accounts.unlock(session, username=username, address=address, operator=_operator())
    target = username or f"address {address}"
    console.print(f"[green]unlocked[/green] {target}" if lifted else f"{target} was not locked (failures cleared)")


@staff_app.command("locked")
def locked() -> None:
    """List the accounts and client addresses locked now, with when each lockout ends."""
    context = open_context()
    table = Table("locked", "until")
    with unit_of_work(context.session_factory) as session:
        for key, until in throttle.locked_keys(session):
            table.add_row(key, until.isoformat(timespec="seconds"))
    console.print(table)


@staff_app.command("password")
def change_password(
    username: str = typer.Argument(...),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Set a new password for an account; every session of the account ends."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            ended = accounts.change_password(session, username=username, password=password, operator=_operator())
    except DomainError as exc:
        _fail(exc)
    console.print(f"[green]password changed[/green] for {username}; {ended} session(s) ended")


@sessions_app.command("list")
def list_sessions(username: str | None = typer.Argument(None, help="Only this account's sessions")) -> None:
    """List live back-office sessions (newest first)."""
    context = open_context()
    timeouts = sessions.Timeouts.from_settings(context.settings)
    subject = accounts.account_key(username) if username else None
    table = Table("id", "account", "address", "logged in", "last seen")
    with unit_of_work(context.session_factory) as session:
        for row in sessions.active(session, timeouts=timeouts, subject=subject):
            table.add_row(
                str(row.id),
                row.subject,
                row.address,
                as_utc(row.created_at).isoformat(timespec="seconds"),
                as_utc(row.last_seen_at).isoformat(timespec="seconds"),
            )
    console.print(table)


@sessions_app.command("revoke")
def revoke_session(session_id: int = typer.Argument(..., help="A session id from `staff sessions list`")) -> None:
    """End one session: its cookie opens nothing from now on."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            subject = accounts.revoke_session(session, session_id=session_id, operator=_operator())
    except DomainError as exc:
        _fail(exc)
    console.print(f"[green]revoked[/green] session {session_id} of {subject}")


@sessions_app.command("revoke-all")
def revoke_all(username: str = typer.Argument(..., help="The account whose sessions end")) -> None:
    """End every session of an account."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        ended = accounts.revoke_all(session, username=username, operator=_operator())
    console.print(f"[green]revoked[/green] {ended} session(s) of {username}")
