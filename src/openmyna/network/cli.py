"""``openmyna network …``: the exchange table, the log's publisher and verifier, endpoints, tokens."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from openmyna.core import clock
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.network import history, log, person_check, service
from openmyna.network.models import ExchangeRecord
from openmyna.network.table import TableError, diff_tables, load_table, parse_table
from openmyna.network.verify import verify as verify_log
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry

app = typer.Typer(help="The Information Provision Network.", no_args_is_help=True)
console = Console()


@app.command("table")
def show_table(
    diff: Path | None = typer.Option(None, help="Compare the loaded table with this YAML file"),
) -> None:
    """Print the loaded exchange table, or what another table file would add and remove."""
    settings = open_context().settings
    current = load_table(settings.exchange_table_path)
    if diff is not None:
        try:
            other = parse_table(diff.read_text(encoding="utf-8"), source=str(diff))
        except TableError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        added, removed = diff_tables(current, other)
        for sign, rows in (("+", added), ("-", removed)):
            for row in rows:
                console.print(f"{sign} {' | '.join(row)}")
        console.print(f"{len(added)} added, {len(removed)} removed")
        return
    table = Table("line", "requester", "business", "provider", "items", title="別表第二 exchange table")
    for row in current.rows:
        table.add_row(str(row.line), row.requester, row.business, row.provider, ", ".join(row.items))
    console.print(table)


@app.command("publish")
def publish() -> None:
    """Sequence new records into the log and sign a tree head."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        head = log.publish(session, keys=context.keys)
    if head is None:
        console.print("another publisher is running; nothing done")
    else:
        console.print(f"tree head: size {head.tree_size:,}, root {head.root_hash.hex()}")


@app.command("verify")
def verify() -> None:
    """Recompute the log from storage; exit 1 naming the first record that does not match."""
    context = open_context()
    with context.read_session_factory() as session:  # a long read: never hold the writer
        total = (
            session.scalar(
                select(func.count()).select_from(ExchangeRecord).where(ExchangeRecord.leaf_index.is_not(None))
            )
            or 0
        )
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("records", total=total)
            report = verify_log(session, keys=context.keys, progress=lambda n: progress.advance(task, n))
    if report.ok:
        console.print(f"[green]ok[/green]: {report.records:,} records match {report.heads} signed tree head(s)")
        return
    console.print(f"[red]MISMATCH[/red]: {report.problem}")
    raise typer.Exit(1)


@app.command("verify-person")
def verify_person(
    person: str = typer.Argument(..., help="A resident id, or the pseudonym of the history"),
    known: Path | None = typer.Option(
        None, help="A signed head seen before (JSON as GET /api/network/sth gives it): a history older fails"
    ),
) -> None:
    """Check one person's history as their device would: every page against the signed head, the person
    map and the published key; exit 1 naming what is missing or out of place."""
    remembered = None
    if known is not None:
        try:
            remembered = json.loads(known.read_text(encoding="utf-8"))
            int(remembered["tree_size"]), str(remembered["sha256_root_hash"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            console.print(f"[red]{known}: not a signed tree head ({exc})[/red]")
            raise typer.Exit(2) from exc
    context = open_context()
    with context.session_factory() as session:
        citizen = person
        if person.isdigit():
            resident = registry.find_resident(session, resident_id=int(person))
            if resident is None:
                console.print(f"[red]no resident {person}[/red]")
                raise typer.Exit(1)
            citizen = registry.subject_of(resident)
        published = log.latest_head(session)
    table = load_table(context.settings.exchange_table_path)
    pages: list[dict[str, object]] = []
    while True:  # each page in its own read, as the API serves it
        with context.session_factory() as session:
            page = history.history(session, table=table, citizen=citizen, limit=100, offset=100 * len(pages))
        pages.append(
            {"total": page.total, "tree_head": page.tree_head, "items": page.items, "completeness": page.completeness}
        )
        if 100 * len(pages) >= page.total:
            break
    report = person_check.check_history(
        pages,
        citizen=citizen,
        public=context.keys.log_signing_key.public_key(),
        known=max(
            (h for h in (remembered, log.head_json(published) if published else None) if h),
            key=lambda h: int(h["tree_size"]),
            default=None,
        ),
    )
    if report.ok:
        console.print(
            f"[green]ok[/green]: {report.records:,} records, complete as of the head of size {report.tree_size:,}"
        )
        return
    console.print(f"[red]INCOMPLETE[/red]: {report.problem}")
    raise typer.Exit(1)


@app.command("purge")
def purge(years: int = typer.Option(7, min=1, help="Retention period in years")) -> None:
    """Remove entries older than the retention period, leaving a signed statement of what was removed."""
    context = open_context()
    cutoff = log.retention_cutoff(clock.now(), years=years)
    with unit_of_work(context.session_factory) as session:
        statement = log.purge(session, keys=context.keys, older_than=cutoff)
    console.print(statement.statement if statement else "nothing older than the retention period")


@app.command("endpoint")
def endpoint(agency: str, url: str | None = typer.Argument(None, help="Base URL; omit to answer in-process")) -> None:
    """Route queries for AGENCY to a server elsewhere (or back in-process)."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        service.set_endpoint(session, agency=agency, base_url=url)
    console.print(f"{agency} → {url or 'in-process'}")


@app.command("citizen-token")
def citizen_token(resident_id: int, ttl: int = typer.Option(900, help="Seconds")) -> None:
    """Mint a resident's token for the history API (operators and demos; the portal mints it after card login)."""
    context = open_context()
    with context.session_factory() as session:
        resident = registry.find_resident(session, resident_id=resident_id)
        if resident is None:
            console.print(f"[red]no resident {resident_id}[/red]")
            raise typer.Exit(1)
        subject = registry.subject_of(resident)
    token = orgs.issue_access_token(
        context.keys, org_code=subject, scopes={"self"}, issuer=context.settings.base_url, ttl_seconds=ttl
    )
    print(token["access_token"])
