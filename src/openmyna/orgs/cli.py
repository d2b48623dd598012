"""``openmyna org …`` and ``openmyna staff …`` for operators."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.orgs import service

app = typer.Typer(help="Organisations, their keys and access tokens.", no_args_is_help=True)
staff_app = typer.Typer(help="Back-office staff accounts.", no_args_is_help=True)
console = Console()


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
