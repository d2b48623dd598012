"""Notices: accepting a send (idempotently), the sender's job status, and the resident's inbox.

A send is accepted as a job and fanned out in the background (``notices.worker``); the request only
checks it, stores it and queues it once the request's transaction has committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.errors import DomainError, Forbidden, NotFound
from openmyna.orgs.models import Organisation
from openmyna.orgs.service import Caller
from openmyna.portal.notices.models import Notice, NoticeMessage, SendJob
from openmyna.portal.notices.queue import QueueUnavailable, Task, TaskQueue
from openmyna.portal.notices.schemas import SendRequest
from openmyna.registry.models import Resident

logger = logging.getLogger("openmyna.notices")
READ_ACTION = "notice.read"
SEND_SCOPE = "notices:send"


class IdempotencyKeyReused(DomainError):
    slug = "idempotency-key-reused"
    status = 422
    title_ja = "同じ冪等キーで別の内容が送られました"
    title_en = "Idempotency key reused with a different request"


class UnknownResidents(NotFound):
    slug = "resident-not-found"
    title_ja = "住民が見つかりません"
    title_en = "Resident not found"


class NoticeNotFound(NotFound):
    slug = "notice-not-found"
    title_ja = "お知らせが見つかりません"
    title_en = "Notice not found"


class JobNotFound(NotFound):
    slug = "send-job-not-found"
    title_ja = "送信ジョブが見つかりません"
    title_en = "Send job not found"


def now_utc() -> dt.datetime:
    """The clock in UTC: SQLite keeps no offset, so every stored instant is UTC (as ``core.sessions``)."""
    return clock.now().astimezone(dt.UTC)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction has committed (never if it rolls back)."""
    pending: list[Callable[[], None]] = session.info.setdefault("notices_after_commit", [])
    if not pending:

        @event.listens_for(session, "after_commit", once=True)
        def _run(_session: Session) -> None:
            actions = list(session.info.pop("notices_after_commit", []))
            for queued in actions:
                queued()

        @event.listens_for(session, "after_rollback", once=True)
        def _drop(_session: Session) -> None:
            session.info.pop("notices_after_commit", None)

    pending.append(action)


def enqueue_after_commit(session: Session, queue: TaskQueue, task: Task) -> None:
    """Queue ``task`` once committed; an unreachable queue leaves the job ``queued`` for the sweep to retry."""

    def _put() -> None:
        try:
            queue.enqueue(task)
        except QueueUnavailable:  # the job row stays "queued"; ``worker.requeue_stale`` queues it again
            logger.warning("could not queue %s %s; left for the sweep", task.kind, task.args, exc_info=True)

    after_commit(session, _put)


def _digest(request: SendRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_selection(session: Session, *, caller: Caller, request: SendRequest) -> None:
    to = request.to
    if to.kind == "residents":
        wanted = set(to.resident_ids)
        found = set(session.scalars(select(Resident.id).where(Resident.id.in_(wanted))))
        missing = sorted(wanted - found)
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + (" …" if len(missing) > 10 else "")
            raise UnknownResidents(f"no resident record with the id(s) {shown}", missing=missing[:100])
    elif to.municipality_code != caller.org_code:
        raise Forbidden(
            f"{caller.org_code} may select only its own residents, not those of {to.municipality_code}",
            required_scope=SEND_SCOPE,
        )


def request_send(
    session: Session, *, caller: Caller, idempotency_key: str, request: SendRequest, queue: TaskQueue
) -> tuple[SendJob, bool]:
    """Accept a send as a job and queue it after commit; ``(job, created)``.

    The same key with the same request answers the first job (``created`` False) and queues nothing;
    the same key with another request is refused.
    """
    if not caller.allows(SEND_SCOPE):
        raise Forbidden(f"{caller.actor} lacks the scope {SEND_SCOPE}", required_scope=SEND_SCOPE)
    digest = _digest(request)
    existing = _job_by_key(session, caller.org_code, idempotency_key)
    if existing is not None:
        return _replayed(existing, digest), False
    _check_selection(session, caller=caller, request=request)
    now = now_utc()
    content = request.notice
    try:
        with session.begin_nested():
            message = NoticeMessage(
                sender_org=caller.org_code,
                kind=content.kind,
                title=content.title,
                body=content.body,
                due_date=content.due_date,
                created_at=now,
            )
            session.add(message)
            session.flush()
            job = SendJob(
                org_code=caller.org_code,
                actor=caller.actor,
                idempotency_key=idempotency_key,
                request_digest=digest,
                message_id=message.id,
                selection=request.to.model_dump(mode="json"),
                created_at=now,
            )
            session.add(job)
            session.flush()
    except IntegrityError:  # the same key raced in from another request and won
        existing = _job_by_key(session, caller.org_code, idempotency_key)
        if existing is None:
            raise
        return _replayed(existing, digest), False
    enqueue_after_commit(session, queue, Task("fanout", {"job_id": job.id}))
    return job, True


def _job_by_key(session: Session, org_code: str, key: str) -> SendJob | None:
    return session.scalar(select(SendJob).where(SendJob.org_code == org_code, SendJob.idempotency_key == key))


def _replayed(job: SendJob, digest: str) -> SendJob:
    if job.request_digest != digest:
        raise IdempotencyKeyReused(
            f"the Idempotency-Key was first used for job {job.id} with a different request; use a new key"
        )
    return job


def get_job(session: Session, *, org_code: str, job_id: int) -> SendJob:
    """A job of the caller's organisation (another organisation's jobs are not found)."""
    job = session.get(SendJob, job_id)
    if job is None or job.org_code != org_code:
        raise JobNotFound(f"no send job {job_id} of {org_code}")
    return job


def list_jobs(session: Session, *, org_code: str, status: str | None = None, limit: int = 50) -> list[SendJob]:
    query = select(SendJob).where(SendJob.org_code == org_code).order_by(SendJob.id.desc()).limit(limit)
    if status:
        query = query.where(SendJob.status == status)
    return list(session.scalars(query))


def job_view(session: Session, job: SendJob) -> dict[str, Any]:
    """The job with its message's kind and title, as the API and the back-office page show it."""
    message = session.get(NoticeMessage, job.message_id)
    assert message is not None
    return {
        "id": job.id,
        "status": job.status,
        "selection": dict(job.selection),
        "kind": message.kind,
        "title": message.title,
        "created_count": job.created_count,
        "mail_count": job.mail_count,
        "attempts": job.attempts,
        "last_error": job.last_error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


# --- the resident's inbox -------------------------------------------------------------------------------


def unread_count(session: Session, *, subject: str) -> int:
    """Unread notices in the person's inbox (archived ones not counted): the number the portal menu shows."""
    query = select(func.count()).where(
        Notice.subject == subject, Notice.read_at.is_(None), Notice.archived_at.is_(None)
    )
    return int(session.scalar(query) or 0)


def inbox(
    session: Session, *, subject: str, archived: bool = False, limit: int = 50, offset: int = 0
) -> list[tuple[Notice, NoticeMessage]]:
    """The person's notices, newest first: the inbox, or the archive."""
    query = (
        select(Notice, NoticeMessage)
        .join(NoticeMessage, NoticeMessage.id == Notice.message_id)
        .where(Notice.subject == subject)
        .where(Notice.archived_at.is_not(None) if archived else Notice.archived_at.is_(None))
        .order_by(Notice.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(notice, message) for notice, message in session.execute(query).all()]


def sender_names(session: Session, codes: set[str], *, lang: str = "ja") -> dict[str, str]:
    """The senders' names (English when asked and known), by organisation code; unknown codes as themselves."""
    rows = session.execute(
        select(Organisation.code, Organisation.name, Organisation.name_en).where(Organisation.code.in_(codes))
    ).all()
    names = {code: (name_en if lang == "en" and name_en else name) for code, name, name_en in rows}
    return {code: names.get(code, code) for code in codes}


def _own(session: Session, *, subject: str, notice_id: int) -> tuple[Notice, NoticeMessage]:
    row = session.execute(
        select(Notice, NoticeMessage)
        .join(NoticeMessage, NoticeMessage.id == Notice.message_id)
        .where(Notice.id == notice_id, Notice.subject == subject)
    ).first()
    if row is None:  # someone else's notice is "not found" too: its existence is not disclosed
        raise NoticeNotFound(f"no notice {notice_id} in your inbox")
    return row[0], row[1]


def open_notice(
    session: Session, *, subject: str, notice_id: int, actor: str | None = None
) -> tuple[Notice, NoticeMessage]:
    """Read one notice: marked read (the first time) and recorded as an access event of the person (``actor``:
    a proxy reading it for them)."""
    notice, message = _own(session, subject=subject, notice_id=notice_id)
    if notice.read_at is None:
        notice.read_at = now_utc()
    audit.record_access(
        session,
        subject=subject,
        actor_org="portal",
        actor=actor or subject,
        action=READ_ACTION,
        purpose=f"notice:{notice_id}",
    )
    return notice, message


def mark_unread(session: Session, *, subject: str, notice_id: int) -> None:
    notice, _ = _own(session, subject=subject, notice_id=notice_id)
    notice.read_at = None


def set_archived(session: Session, *, subject: str, notice_id: int, archived: bool) -> None:
    notice, _ = _own(session, subject=subject, notice_id=notice_id)
    notice.archived_at = now_utc() if archived else None


def mark_all_read(session: Session, *, subject: str) -> int:
    """Mark every unread inbox notice read; how many were."""
    result = session.execute(
        update(Notice)
        .where(Notice.subject == subject, Notice.read_at.is_(None), Notice.archived_at.is_(None))
        .values(read_at=now_utc())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
