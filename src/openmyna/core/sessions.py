"""Server-side web sessions: the cookie carries only a random id, the database says whose session it is.

A login through a browser (staff now; card and portal logins later) calls :func:`start` and puts the
returned token in Starlette's signed session cookie under :data:`COOKIE_KEY`. Only the token's SHA-256
is stored, so a copy of the table opens nothing. A session ends at logout (:func:`end`), by revocation
(:func:`revoke`, :func:`revoke_subject`), after ``Settings.session_idle_timeout_seconds`` without a
request, or ``session_absolute_timeout_seconds`` after it began. Its CSRF token lives in the row.

:func:`load` is a FastAPI dependency the application declares for every route. It looks the token up
in a read-only unit of work of its own and touches ``last_seen_at`` at most once a minute in a short
write of its own, each begun and ended inside one synchronous call (``core.web``'s rule).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy import JSON, DateTime, LargeBinary, String, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.concurrency import run_in_threadpool

from openmyna.core import clock
from openmyna.core.config import Settings
from openmyna.core.db import Base, unit_of_work
from openmyna.core.timefmt import as_utc

COOKIE_KEY = "sid"
PERSON_KIND = "person"  # the subject namespace of a resident's session (``person:<pseudonym digits>``)
TOUCH_INTERVAL = dt.timedelta(minutes=1)


class WebSession(Base):
    """One logged-in browser: whose it is (``subject``), what its pages show (``data``) and when it was used."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    subject: Mapped[str] = mapped_column(String(128), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    csrf: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class Timeouts:
    idle: dt.timedelta
    absolute: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(
            idle=dt.timedelta(seconds=settings.session_idle_timeout_seconds),
            absolute=dt.timedelta(seconds=settings.session_absolute_timeout_seconds),
        )


@dataclass(frozen=True)
class ActiveSession:
    """A live session as a request sees it (a plain value: no database object outlives its unit of work)."""

    id: int
    subject: str
    data: dict[str, Any]
    csrf: str
    last_seen_at: dt.datetime

    @property
    def kind(self) -> str:
        """The subject's namespace: ``staff`` for ``staff:alice``."""
        return self.subject.partition(":")[0]


def _now() -> dt.datetime:
    return clock.now().astimezone(dt.UTC)  # one zone on both databases: SQLite keeps no offset


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _expired(now: dt.datetime, timeouts: Timeouts) -> Any:
    return or_(WebSession.last_seen_at <= now - timeouts.idle, WebSession.created_at <= now - timeouts.absolute)


def start(session: Session, *, subject: str, data: dict[str, Any], address: str, timeouts: Timeouts) -> str:
    """Begin a session for ``subject`` and return its token (for the cookie); expired sessions are dropped."""
    now = _now()
    session.execute(delete(WebSession).where(_expired(now, timeouts)))
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_digest(token),
            subject=subject,
            data=data,
            csrf=secrets.token_urlsafe(32),
            address=address[:64],
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def find(session: Session, token: str, *, timeouts: Timeouts) -> ActiveSession | None:
    """The live session ``token`` opens, or None (unknown, revoked or timed out)."""
    now = _now()
    row = session.scalar(
        select(WebSession).where(WebSession.token_hash == _digest(token)).where(~_expired(now, timeouts))
    )
    if row is None:
        return None
    return ActiveSession(row.id, row.subject, dict(row.data), row.csrf, as_utc(row.last_seen_at))


def touch(session: Session, session_id: int) -> None:
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=_now()))


def end(session: Session, token: str) -> str | None:
    """End the session ``token`` opens (logout); whose it was, if it existed."""
    return session.scalar(
        delete(WebSession).where(WebSession.token_hash == _digest(token)).returning(WebSession.subject)
    )


def revoke(session: Session, session_id: int) -> str | None:
    """End one session by its id (an operator's act); whose it was, if it existed."""
    return session.scalar(delete(WebSession).where(WebSession.id == session_id).returning(WebSession.subject))


def revoke_subject(session: Session, subject: str) -> int:
    """End every session of ``subject`` (revoke-all, password change); how many there were."""
    return len(session.scalars(delete(WebSession).where(WebSession.subject == subject).returning(WebSession.id)).all())


def active(session: Session, *, timeouts: Timeouts, subject: str | None = None) -> list[WebSession]:
    """Live sessions, newest first, of one subject or of all."""
    query = select(WebSession).where(~_expired(_now(), timeouts)).order_by(WebSession.created_at.desc())
    if subject is not None:
        query = query.where(WebSession.subject == subject)
    return list(session.scalars(query))


def _resolve(app: FastAPI, token: str) -> ActiveSession | None:
    """Look ``token`` up, then touch its last-seen time if a minute has passed: two short units of work."""
    timeouts = Timeouts.from_settings(app.state.settings)
    with unit_of_work(app.state.read_session_factory) as session:
        found = find(session, token, timeouts=timeouts)
    if found is not None and _now() - found.last_seen_at >= TOUCH_INTERVAL:
        with unit_of_work(app.state.session_factory) as session:
            touch(session, found.id)
    return found


async def load(request: Request) -> ActiveSession | None:
    """The request's live session, also kept on ``request.state`` for :func:`current`; a dead id leaves the cookie.

    Async so that a request without a session cookie (every machine client) costs no threadpool call.
    """
    token = request.session.get(COOKIE_KEY) if "session" in request.scope else None
    found = await run_in_threadpool(_resolve, request.app, token) if isinstance(token, str) else None
    if found is None and token is not None:
        request.session.pop(COOKIE_KEY, None)
    request.state.web_session = found
    return found


def current(request: Request) -> ActiveSession | None:
    """The session :func:`load` found for this request (None when it found none or did not run)."""
    return getattr(request.state, "web_session", None)


CurrentSession = Annotated[ActiveSession | None, Depends(load)]
