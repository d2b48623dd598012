"""``openmyna notices …``: run the queue worker, list send jobs, queue lost jobs again."""

from __future__ import annotations

import datetime as dt
import signal
import threading

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.portal.notices import queue as task_queue
from openmyna.portal.notices import service, worker

app = typer.Typer(help="Notices: the background worker and the send jobs.", no_args_is_help=True)
console = Console()


def _worker() -> worker.Worker:
    context = open_context()
    return worker.Worker(
        session_factory=context.session_factory,
        settings=context.settings,
        queue=task_queue.from_settings(context.settings),
    )


@app.command("worker")
def run_worker(
    drain: bool = typer.Option(False, help="Handle what is queued now, then exit (else run until stopped)"),
    threads: int = typer.Option(1, min=1, max=32, help="Worker threads"),
) -> None:
    """Fan out send jobs and send e-mail announcements from the queue (OPENMYNA_QUEUE_URL)."""
    runner = _worker()
    console.print(f"queue: {runner.queue.description}", style="dim")
    if runner.queue.description == "in-process":
        console.print("no OPENMYNA_QUEUE_URL: only tasks queued by this process are seen here", style="yellow")
    if drain:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} tasks"))
        with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
            bar = progress.add_task("handling queued tasks", total=None)
            while handled := runner.run_once(wait_seconds=0.5):
                progress.advance(bar, handled)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stopper = worker.start_threads(runner, threads)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stopper()


@app.command("jobs")
def jobs(
    org: str = typer.Option(..., help="The sending organisation's code"),
    status: str | None = typer.Option(None, help="queued, running, done or failed"),
) -> None:
    """The organisation's send jobs, newest first."""
    context = open_context()
    table = Table("id", "status", "kind", "title", "notices", "e-mails", "attempts", "last error")
    with unit_of_work(context.read_session_factory) as session:
        for job in service.list_jobs(session, org_code=org, status=status):
            view = service.job_view(session, job)
            table.add_row(
                str(view["id"]),
                view["status"],
                view["kind"],
                view["title"],
                str(view["created_count"]),
                str(view["mail_count"]),
                str(view["attempts"]),
                view["last_error"],
            )
    console.print(table)


@app.command("requeue")
def requeue(
    older_than_minutes: int = typer.Option(10, min=1, help="Jobs still queued this long after they were accepted"),
) -> None:
    """Queue again the send jobs whose task was lost (e.g. the queue was down when they were accepted)."""
    context = open_context()
    target = task_queue.from_settings(context.settings)
    with unit_of_work(context.session_factory) as session:
        ids = worker.requeue_stale(session, target, older_than=dt.timedelta(minutes=older_than_minutes))
    console.print(f"queued again: {', '.join(map(str, ids)) or 'none'}")
