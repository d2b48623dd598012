"""The background worker: fans a send job out to its recipients and sends the e-mail announcements.

Exactly-once effects over an at-least-once queue:

- A fan-out runs in chunks of residents ordered by record id. Each chunk is one transaction that holds
  the job's row (``FOR UPDATE``), inserts that chunk's notices and moves ``cursor`` past them, so a task
  delivered twice, retried, or run by two workers at once continues from the committed cursor and
  never creates a notice twice (``UNIQUE (message_id, subject)`` is the backstop).
- E-mails are rows (``notice_mails``, one per notice) made in the job's last transaction; a mail task
  sends only rows still ``pending`` and marks them ``sent`` in the same transaction.

A failed attempt is recorded on the job (``attempts``, ``last_error``) and retried after a back-off;
after ``MAX_ATTEMPTS`` the job is ``failed`` and its error stays visible on the status API and page.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from openmyna.core.config import Settings
from openmyna.core.db import bulk_insert, unit_of_work
from openmyna.portal.notices.models import (
    JOB_DONE,
    JOB_FAILED,
    JOB_QUEUED,
    JOB_RUNNING,
    MAIL_FAILED,
    MAIL_PENDING,
    MAIL_SENT,
    Notice,
    NoticeMail,
    NoticeMessage,
    SendJob,
)
from openmyna.portal.notices.queue import Received, Task, TaskQueue
from openmyna.portal.notices.service import enqueue_after_commit, now_utc
from openmyna.portal.settings import mail as mailing
from openmyna.portal.settings.models import AccountSettings
from openmyna.registry.models import RESIDENT, Resident

logger = logging.getLogger("openmyna.notices.worker")

CHUNK = 10_000
MAIL_BATCH = 100
MAX_ATTEMPTS = 5
SWEEP_SECONDS = 60.0
STALE_AFTER = dt.timedelta(minutes=5)  # a job still "queued" this long after it was accepted lost its task


def backoff_seconds(attempt: int) -> float:
    """Wait before attempt ``attempt + 1``: 1, 4, 16, 64 s (capped at 5 minutes)."""
    return float(min(300, 4 ** (attempt - 1)))


@dataclass
class Worker:
    """What a task needs: the database, settings (SMTP, URLs) and the queue to put follow-up tasks on."""

    session_factory: sessionmaker[Session]
    settings: Settings
    queue: TaskQueue
    chunk: int = CHUNK
    max_attempts: int = MAX_ATTEMPTS
    backoff: Callable[[int], float] = backoff_seconds

    # --- the loop -------------------------------------------------------------------------------------

    def run_once(self, *, wait_seconds: float = 0.0, count: int = 10) -> int:
        """Receive and handle up to ``count`` tasks; how many were handled (successfully or not)."""
        received = self.queue.receive(count=count, wait_seconds=wait_seconds)
        for item in received:
            self._handle(item)
        return len(received)

    def drain(self, *, max_rounds: int = 1000) -> int:
        """Handle tasks until none is ready now (tests, the CLI's ``--drain``); how many were handled."""
        handled = 0
        for _ in range(max_rounds):
            done = self.run_once(wait_seconds=0.0)
            if not done:
                break
            handled += done
        return handled

    def run_forever(self, stop: threading.Event) -> None:
        """Handle tasks until ``stop``; every ``SWEEP_SECONDS`` queue again the jobs whose task was lost."""
        next_sweep = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_SECONDS
                    with unit_of_work(self.session_factory) as session:
                        requeue_stale(session, self.queue, older_than=STALE_AFTER)
                self.run_once(wait_seconds=1.0)
            except Exception:  # the queue or the database went away for a moment: keep the worker, try again
                logger.exception("notice worker round failed")
                stop.wait(1.0)

    def _handle(self, item: Received) -> None:
        task = item.task
        try:
            if task.kind == "fanout":
                self.fan_out(int(task.args["job_id"]))
            elif task.kind == "mail":
                self.send_mails([int(i) for i in task.args["mail_ids"]])
            else:
                logger.error("unknown task kind %r dropped", task.kind)
        except Exception as exc:
            self._failed(item, exc)
            return
        self.queue.ack(item)

    def _failed(self, item: Received, exc: Exception) -> None:
        task = item.task
        error = f"{type(exc).__name__}: {exc}"[:500]
        final = task.attempt >= self.max_attempts
        logger.warning(
            "task %s attempt %d failed%s: %s", task.kind, task.attempt, " (giving up)" if final else "", error
        )
        with unit_of_work(self.session_factory) as session:
            job_id = task.args.get("job_id")
            if task.kind == "fanout" and isinstance(job_id, int):
                job = session.get(SendJob, job_id)
                if job is not None:
                    job.last_error = error
                    if final:
                        job.status, job.finished_at = JOB_FAILED, now_utc()
            elif task.kind == "mail":  # the attempt's own transaction was rolled back: count it here
                for mail in session.scalars(select(NoticeMail).where(NoticeMail.id.in_(_mail_ids(task)))):
                    if mail.status == MAIL_PENDING:
                        mail.attempts, mail.last_error = mail.attempts + 1, error
                        if final:
                            mail.status = MAIL_FAILED
        if final:
            self.queue.ack(item)
        else:
            self.queue.retry(item, delay_seconds=self.backoff(task.attempt))

    # --- fan-out --------------------------------------------------------------------------------------

    def fan_out(self, job_id: int) -> None:
        """Create the job's notices chunk by chunk, then its e-mail rows; idempotent (see the module)."""
        with unit_of_work(self.session_factory) as session:
            job = session.get(SendJob, job_id, with_for_update=True)
            if job is None or job.status in (JOB_DONE, JOB_FAILED):
                return
            job.status = JOB_RUNNING
            job.attempts += 1
        while self._fan_out_chunk(job_id):
            pass

    def _fan_out_chunk(self, job_id: int) -> bool:
        """One chunk in one transaction; False when the job is complete."""
        with unit_of_work(self.session_factory) as session:
            job = session.get(SendJob, job_id, with_for_update=True)
            if job is None or job.status != JOB_RUNNING:
                return False
            rows = session.execute(_recipients(job.selection, after=job.cursor, limit=self.chunk)).all()
            if not rows:
                self._finish(session, job)
                return False
            seen: set[str] = set()
            subjects = []
            for _resident_id, subject in rows:
                if subject not in seen:
                    seen.add(subject)
                    subjects.append(subject)
            if job.selection["kind"] == "residents":  # a listed person may have two records: skip repeats
                subjects = _not_yet_sent(session, job.message_id, subjects)
            now = now_utc()
            bulk_insert(
                session.connection(),
                Notice.__table__,
                ("message_id", "subject", "created_at"),
                ((job.message_id, subject, now) for subject in subjects),
            )
            job.cursor = int(rows[-1][0])
            job.created_count += len(subjects)
            return True

    def _finish(self, session: Session, job: SendJob) -> None:
        """The last transaction: e-mail rows for recipients who asked for this kind by e-mail, and ``done``."""
        message = session.get(NoticeMessage, job.message_id)
        assert message is not None
        candidates = session.execute(
            select(Notice.id, AccountSettings.email, AccountSettings.mail_kinds)
            .join(Notice, Notice.subject == AccountSettings.subject)
            .outerjoin(NoticeMail, NoticeMail.notice_id == Notice.id)
            .where(Notice.message_id == job.message_id)
            .where(AccountSettings.email_verified_at.is_not(None), AccountSettings.email != "")
            .where(NoticeMail.id.is_(None))
        ).all()
        mails = [
            NoticeMail(notice_id=notice_id, address=email)
            for notice_id, email, kinds in candidates
            if message.kind in kinds.split()
        ]
        session.add_all(mails)
        session.flush()
        job.mail_count += len(mails)
        job.status, job.finished_at, job.last_error = JOB_DONE, now_utc(), ""
        ids = [mail.id for mail in mails]
        for start in range(0, len(ids), MAIL_BATCH):
            enqueue_after_commit(session, self.queue, Task("mail", {"mail_ids": ids[start : start + MAIL_BATCH]}))

    # --- e-mail ---------------------------------------------------------------------------------------

    def send_mails(self, mail_ids: list[int]) -> None:
        """Send the still-pending mails of a batch (one SMTP connection) and mark them sent."""
        mailer = mailing.Mailer(self.settings)
        with unit_of_work(self.session_factory) as session:
            rows = list(
                session.scalars(
                    select(NoticeMail)
                    .where(NoticeMail.id.in_(mail_ids), NoticeMail.status == MAIL_PENDING)
                    .with_for_update()
                )
            )
            if not rows:
                return
            for row in rows:
                row.attempts += 1
            mailer.send([mailing.notice_waiting(self.settings, to=row.address) for row in rows])
            sent_at = now_utc()
            for row in rows:
                row.status, row.sent_at, row.last_error = MAIL_SENT, sent_at, ""


def _mail_ids(task: Task) -> list[int]:
    """The mail ids a (possibly malformed) mail task names; none when it names none properly."""
    ids = task.args.get("mail_ids")
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def _not_yet_sent(session: Session, message_id: int, subjects: list[str]) -> list[str]:
    done = set(
        session.scalars(select(Notice.subject).where(Notice.message_id == message_id, Notice.subject.in_(subjects)))
    )
    return [s for s in subjects if s not in done]


def _recipients(selection: dict[str, object], *, after: int, limit: int) -> Select[tuple[int, bytes]]:
    """``(resident id, pseudonym)`` of the next ``limit`` recipients after record id ``after``."""
    query = select(Resident.id, Resident.pseudonym).where(Resident.id > after).order_by(Resident.id).limit(limit)
    kind = selection["kind"]
    if kind not in ("residents", "town", "households_with_child"):
        raise ValueError(f"unknown selection kind {kind!r}")
    if kind == "residents":
        ids = selection["resident_ids"]
        assert isinstance(ids, list)
        wanted = sorted(i for i in set(ids) if i > after)[:limit]
        return query.where(Resident.id.in_(wanted))
    code = str(selection["municipality_code"])
    query = query.where(Resident.municipality_code == code, Resident.status == RESIDENT)
    if kind == "town":
        return query
    if kind == "households_with_child":
        as_of = dt.date.fromisoformat(str(selection["as_of"])) if selection.get("as_of") else _today()
        born_after = _years_before(as_of, int(str(selection["under_age"])))
        child = Resident.__table__.alias("child")
        with_child = (
            select(child.c.household_id)
            .where(child.c.status == RESIDENT, child.c.birth_date > born_after, child.c.household_id.is_not(None))
            .distinct()
        )
        return query.where(Resident.relationship_code == "head", Resident.household_id.in_(with_child))
    raise AssertionError(kind)


def _today() -> dt.date:
    from openmyna.core import clock

    return clock.today()


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (28 February for a 29 February that year lacks)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def requeue_stale(session: Session, queue: TaskQueue, *, older_than: dt.timedelta) -> list[int]:
    """Queue again the jobs still ``queued`` longer than ``older_than`` after they were accepted (a lost task:
    the queue was down at the time). A job that is ``running`` has a task that some worker holds (with Redis
    a dead worker's task is taken over); queuing it twice would be harmless, only wasteful."""
    cutoff = now_utc() - older_than
    jobs = list(session.scalars(select(SendJob.id).where(SendJob.status == JOB_QUEUED, SendJob.created_at < cutoff)))
    for job_id in jobs:
        queue.enqueue(Task("fanout", {"job_id": job_id}))
    return jobs


def start_threads(worker: Worker, threads: int) -> Callable[[], None]:
    """Run ``threads`` workers in this process; returns the function that stops them."""
    stop = threading.Event()
    running: Iterable[threading.Thread] = [
        threading.Thread(target=worker.run_forever, args=(stop,), name=f"notice-worker-{i}", daemon=True)
        for i in range(threads)
    ]
    running = list(running)
    for thread in running:
        thread.start()

    def _stop() -> None:
        stop.set()
        for thread in running:
            thread.join(timeout=5)

    return _stop


def start_in_app(app: Any) -> Callable[[], None]:
    """The web process's own queue workers (``OPENMYNA_NOTICE_WORKER_THREADS``, 0 for none)."""
    settings: Settings = app.state.settings
    if settings.notice_worker_threads <= 0:
        return lambda: None
    worker = Worker(session_factory=app.state.session_factory, settings=settings, queue=app.state.notice_queue)
    return start_threads(worker, settings.notice_worker_threads)
