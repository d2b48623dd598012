"""``openmyna payments``: the requests as the platform holds them, and the sandbox acquirer run alone."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.portal.payments import sandbox, service

app = typer.Typer(help="Public payments (公金決済): payment requests and the sandbox acquirer.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_requests(
    status: Annotated[str | None, typer.Option(help="open, paid or refunded")] = None,
    payee: Annotated[str | None, typer.Option(help="Only this payee organisation's code")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Payment requests, newest first: payee, person (pseudonym), amount, status, receipt number."""
    context = open_context()
    table = Table("id", "payee", "person", "kind", "amount (yen)", "due", "status", "receipt")
    with unit_of_work(context.read_session_factory) as session:
        for row in service.list_all(session, status=status, payee=payee, limit=limit):
            table.add_row(
                str(row.id),
                row.payee_org,
                row.subject,
                row.kind,
                f"{row.amount:,}",
                row.due_date.isoformat(),
                row.status,
                row.receipt_number or "",
            )
    context.engine.dispose()
    console.print(table)


@app.command("sandbox")
def run_sandbox(
    host: Annotated[str, typer.Option(help="Listen address (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8700,
) -> None:
    """Run the sandbox acquirer alone, with the API key and webhook secret this platform derives."""
    sandbox.main(["--host", host, "--port", str(port)])
