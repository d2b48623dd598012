"""``openmyna keys …``: the key generations protecting My Numbers at rest, and their rotation."""

from __future__ import annotations

import json

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.numbers import protection
from openmyna.registry import rotation

keys_app = typer.Typer(help="Keys that protect My Numbers at rest: status and rotation.", no_args_is_help=True)


@keys_app.command("status")
def status() -> None:
    """Print the current key generation, the one a running rotation moves from, and rows not yet moved."""
    context = open_context()
    with unit_of_work(context.read_session_factory) as session:
        state = protection.generations(session)
        left = rotation.pending(session, generation=state.current)
    typer.echo(json.dumps({"current": state.current, "previous": state.previous, "pending": left}))


@keys_app.command("rotate")
def rotate(batch: int = typer.Option(1000, min=1, max=100_000, help="Rows re-keyed per transaction")) -> None:
    """Re-seal and re-index every stored My Number under a new key generation; resumes an interrupted one."""
    context = open_context()
    with Progress(
        TextColumn("re-keying My Numbers"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
    ) as bar:
        task = bar.add_task("rotate", total=None)
        report = rotation.rotate(
            context.session_factory,
            keys=context.keys,
            batch=batch,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    typer.echo(json.dumps({"generation": report.generation, "previous": report.previous, "moved": report.moved}))
