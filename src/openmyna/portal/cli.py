"""``openmyna portal …``: operator commands of Mynaportal (linked sites now; room for the other menus)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError
from openmyna.portal.oidc import service as oidc

app = typer.Typer(help="Mynaportal: linked sites (OpenID Connect relying parties) and other portal operations.")
rp_app = typer.Typer(help="Linked sites: organisations registered as OpenID Connect relying parties.")
app.add_typer(rp_app, name="rp")
console = Console()
err = Console(stderr=True)


@rp_app.command("add")
def rp_add(
    name: str = typer.Argument(..., help="The linked site's name, as residents see it on the consent page"),
    redirect_uri: list[str] = typer.Option(..., "--redirect-uri", help="A redirect URI (exact match; repeatable)"),
    post_logout_redirect_uri: list[str] = typer.Option(
        [], "--post-logout-redirect-uri", help="Where RP-initiated logout may return (default: each origin's /)"
    ),
) -> None:
    """Register a linked site; prints ONLY a JSON object with its client_id and client_secret."""
    context = open_context()
    try:
        with unit_of_work(context.session_factory) as session:
            created = oidc.register_relying_party(
                session,
                keys=context.keys,
                name=name,
                redirect_uris=redirect_uri,
                post_logout_redirect_uris=post_logout_redirect_uri,
            )
    except DomainError as exc:
        err.print(f"[red]{exc.title_en}[/red]: {exc.detail}")
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({"client_id": created.client_id, "client_secret": created.client_secret}))


@rp_app.command("list")
def rp_list() -> None:
    """The registered linked sites and their redirect URIs (never their secrets)."""
    context = open_context()
    table = Table("client_id", "name", "sector", "redirect URIs", "post-logout URIs")
    with unit_of_work(context.session_factory) as session:
        for rp in oidc.list_relying_parties(session):
            table.add_row(
                rp.client_id, rp.name, rp.sector, "\n".join(rp.redirect_uris), "\n".join(rp.post_logout_redirect_uris)
            )
    console.print(table)
