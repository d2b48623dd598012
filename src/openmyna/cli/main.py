"""The ``openmyna`` command: init, seed, serve, and each domain's operator commands."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from openmyna.app import migrate
from openmyna.app.seed import SeedReport, seed_world
from openmyna.app.wiring import wire
from openmyna.card import cli as card_cli
from openmyna.carduses import cli as carduses_cli
from openmyna.carduses.tickets import cli as tickets_cli
from openmyna.core.context import open_context
from openmyna.corporate import cli as corporate_cli
from openmyna.ekyc import cli as ekyc_cli
from openmyna.eservice import cli as eservice_cli
from openmyna.health import cli as health_cli
from openmyna.kiosk import cli as kiosk_cli
from openmyna.network import cli as network_cli
from openmyna.numbers import cli as numbers_cli
from openmyna.orgs import cli as orgs_cli
from openmyna.portal import cli as portal_cli
from openmyna.portal.auth import app_login as portal_app_login
from openmyna.portal.notices import cli as notices_cli
from openmyna.portal.payments import cli as payments_cli
from openmyna.registry import cli as registry_cli

app = typer.Typer(help="openmyna: Japan's My Number platform, runnable.", no_args_is_help=True)
app.add_typer(numbers_cli.app, name="number")
app.add_typer(orgs_cli.app, name="org")
app.add_typer(orgs_cli.staff_app, name="staff")
card_cli.app.command("app-login")(portal_app_login.command)  # the phone app's QR login, on the card's commands
app.add_typer(card_cli.app, name="card")
app.add_typer(registry_cli.keys_app, name="keys")


def _schema_first() -> None:
    """The corporate, eservice and portal commands bring the schema up to date first, as ``openmyna init`` would."""
    migrate.upgrade(open_context().engine)


app.add_typer(portal_cli.app, name="portal", callback=_schema_first)
app.add_typer(corporate_cli.app, name="corporate", callback=_schema_first)
app.add_typer(eservice_cli.app, name="eservice", callback=_schema_first)
app.add_typer(kiosk_cli.app, name="kiosk", callback=_schema_first)
app.add_typer(network_cli.app, name="network")
app.add_typer(notices_cli.app, name="notices")
app.add_typer(payments_cli.app, name="payments")
app.add_typer(health_cli.app, name="health", callback=_schema_first)
app.add_typer(carduses_cli.app, name="gate", callback=_schema_first)
app.add_typer(ekyc_cli.app, name="ekyc", callback=_schema_first)
app.add_typer(tickets_cli.app, name="ticket", callback=_schema_first)
console = Console()


@app.callback()
def _assemble() -> None:
    """Subscribe the domains' event handlers with this process's settings before any command runs."""
    context = open_context()
    wire(context.settings, context.keys)


@app.command()
def init() -> None:
    """Create or upgrade the database schema (idempotent)."""
    context = open_context()
    migrate.upgrade(context.engine)
    console.print(f"[green]schema up to date[/green] at {context.engine.url.render_as_string(hide_password=True)}")


def print_report(report: SeedReport, base_url: str) -> None:
    if report.created:
        console.print(f"[green]seeded[/green] {report.residents:,} residents")
    else:
        console.print(f"already seeded ({report.residents:,} residents); nothing changed")
    logins = Table("staff login", "password", "role", "organisation", title=f"Back office: {base_url}/staff/login")
    for login in report.logins:
        logins.add_row(login.username, login.password, login.role, login.org)
    console.print(logins)
    people = Table(title="Demo residents")
    for heading in ("persona", "name", "id", "resident code", "My Number", "born"):
        people.add_column(heading, no_wrap=True)
    for persona in report.personas:
        people.add_row(
            persona.key,
            persona.name,
            str(persona.resident_id),
            persona.resident_code,
            persona.my_number_masked,
            persona.birth_date.isoformat(),
        )
    console.print(people)
    if report.cards:
        demo_cards = Table(title="Demo My Number Cards (openmyna card sign --card ID --pin PIN …)")
        for heading in ("persona", "card", "state", "auth/face PIN", "signing PIN"):
            demo_cards.add_column(heading, no_wrap=True)
        for card in report.cards:
            demo_cards.add_row(card.persona, str(card.card_id), card.state, card.auth_pin, card.sign_pin or "—")
        console.print(demo_cards)
        console.print(
            f"Mynaportal: {base_url}/portal — with the card on this computer: run "
            "`openmyna card reader-serve --card ID` and type the auth PIN on the login page; with the QR code: "
            "`openmyna card app-login URL --card ID --pin PIN` (URL: the page's ログイン用URL)"
        )
        console.print(
            "Proxy (代理人): employee is pensioner's proxy for menus A, C and F — log in with the employee's card, "
            f"then {base_url}/portal/proxy → 「鈴木 一郎さんの代理で利用する」"
        )


@app.command()
def seed(
    residents: int = typer.Option(5000, min=1, help="How many residents the demo town has"),
    seed: int = typer.Option(42, help="Random seed: the same seed makes the same town"),
) -> None:
    """Load the demo world into an empty database (skips if already seeded)."""
    context = open_context()
    migrate.upgrade(context.engine)
    columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("residents", total=residents)
        report = seed_world(context, residents=residents, seed=seed, progress=lambda n: progress.advance(task, n))
    print_report(report, context.settings.base_url)


def _exit_after_stop(_signal: int, _frame: object) -> None:
    """Exit 0 after a graceful stop; a worker thread still busy past a short join does not hold the exit."""
    deadline = time.monotonic() + 1.0
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="Worker processes (they share the database and the master key)"),
    access_log: bool = typer.Option(True, help="Log every request (off for load tests)"),
) -> None:
    """Serve the platform over HTTP; SIGTERM or Ctrl-C stops it within OPENMYNA_SHUTDOWN_GRACE_SECONDS."""
    import uvicorn

    from openmyna.core.config import Settings

    # uvicorn re-raises SIGTERM once it has stopped; this handler then makes that stop an exit 0.
    signal.signal(signal.SIGTERM, _exit_after_stop)
    console.print(f"openmyna serving on [bold]http://{host}:{port}[/bold]  (API docs: /docs)")
    uvicorn.run(
        "openmyna.app.factory:create_server_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        # In-flight requests get this long to finish; then they are cancelled and the process exits 0.
        timeout_graceful_shutdown=Settings().shutdown_grace_seconds,
        # uvicorn restarts a worker that misses its health ping for this long (default 5 s); importing the app
        # takes 3-7 s on a busy 2-core machine, so with the default, workers were killed while starting, forever.
        timeout_worker_healthcheck=30,
    )
