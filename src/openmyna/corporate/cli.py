"""``openmyna corporate``: import NTA and activity CSV files, write synthetic data, issue API tokens."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.corporate import activity, importer, service, synth
from openmyna.corporate.nta import BadRow, NotNtaCsv

app = typer.Typer(help="Corporate information: the corporate-number registry and activity records.")
console = Console(stderr=True)


def _is_activity_file(path: Path) -> bool:
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8-sig", errors="replace").strip()
    return first == ",".join(activity.CSV_HEADER)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _print_bad(row: BadRow) -> None:
    console.print(f"[yellow]skipped[/yellow] {row}", markup=True, highlight=False)


@app.command("import")
def import_files(files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """Import NTA corporate-number CSV files (full or diff) and activity CSV files, one transaction each.

    A file imported before is skipped; an interrupted file leaves nothing behind and can simply be imported
    again. Bad rows are reported with file and line and skipped.
    """
    context = open_context()
    failed = False
    for path in files:
        try:
            with context.engine.begin() as connection:
                if _is_activity_file(path):
                    report = activity.import_activity_file(connection, path, on_bad_row=_print_bad)
                    summary = (
                        f"{report.rows:,} activity records, {report.inserted:,} new, "
                        f"{report.unlinked:,} kept aside (corporate number not yet known), {report.bad:,} bad rows"
                    )
                else:
                    columns = (TextColumn(path.name), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
                    with Progress(*columns, console=console, transient=True) as progress:
                        task = progress.add_task("rows", total=_count_lines(path))
                        nta = importer.import_nta_file(
                            connection,
                            path,
                            progress=lambda n, task=task: progress.advance(task, n),
                            on_bad_row=_print_bad,
                            on_phase=lambda phase, name=path.name: console.print(f"{name}: {phase}…"),
                        )
                    report = nta
                    summary = (
                        f"{nta.rows:,} rows: {nta.inserted:,} new, {nta.replaced:,} changed, "
                        f"{nta.to_history:,} into history, {nta.unchanged:,} unchanged, {nta.bad:,} bad rows"
                    )
        except (NotNtaCsv, activity.NotActivityCsv) as exc:
            console.print(f"[red]refused[/red] {exc}")
            failed = True
            continue
        if report.already_imported:
            console.print(f"{path.name}: already imported; nothing changed")
        else:
            console.print(f"[green]imported[/green] {path.name}: {summary}")
    if failed:
        raise typer.Exit(1)


@app.command("synth")
def synth_command(
    rows: int = typer.Option(100_000, min=1, help="How many corporations"),
    out: Path = typer.Option(Path("var/corporate"), help="Directory for the files"),
    seed: int = typer.Option(42, help="The same seed writes the same files"),
) -> None:
    """Write a synthetic NTA full file, a diff file and an activity file."""
    columns = (TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("rows", total=rows)
        report = synth.write_dataset(out, rows=rows, seed=seed, progress=lambda n: progress.advance(task, n))
    console.print(
        f"[green]wrote[/green] {report.full} ({report.rows:,} rows), {report.diff} ({report.diff_rows:,} rows), "
        f"{report.activity} ({report.activity_rows:,} records)"
    )


@app.command("token")
def token(name: str = typer.Argument(..., help="Who the token is for")) -> None:
    """Issue an API token for the gBizINFO- and NTA-compatible APIs; prints only the token."""
    context = open_context()
    with unit_of_work(context.session_factory) as session:
        issued = service.issue_token(session, name=name)
    sys.stdout.write(issued + "\n")
