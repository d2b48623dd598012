"""Access events: every read or change of a person's data, kept for that person to see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import DateTime, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from openmyna.core import clock
from openmyna.core.db import Base, bulk_insert
from openmyna.core.errors import DomainError


class AccessEvent(Base):
    """One access to one person's data; ``subject`` is the person's key within the platform."""

    __tablename__ = "audit_access_events"
    __table_args__ = (
        Index("ix_audit_access_events_subject_time", "subject", "occurred_at"),
        Index("ix_audit_access_events_actor_time", "actor", "occurred_at"),  # a staff member's recent work
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor_org: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(256), default="")


def record_access(
    session: Session, *, subject: str, actor_org: str, actor: str, action: str, purpose: str = ""
) -> None:
    """Add an access event to the caller's unit of work."""
    session.add(
        AccessEvent(
            subject=subject, occurred_at=clock.now(), actor_org=actor_org, actor=actor, action=action, purpose=purpose
        )
    )


def record_accesses(
    session: Session, *, subjects: Iterable[str], actor_org: str, actor: str, action: str, purpose: str = ""
) -> None:
    """One access event per subject, written at once in the caller's transaction (enrolling a town in bulk).

    Pending ORM changes are flushed first, so the events keep their order with the ones added before.
    """
    session.flush()
    now = clock.now()
    bulk_insert(
        session.connection(),
        AccessEvent.__table__,
        ("subject", "occurred_at", "actor_org", "actor", "action", "purpose"),
        ((subject, now, actor_org, actor, action, purpose) for subject in subjects),
    )


@contextmanager
def refusal_recorded(session: Session, record: Callable[[DomainError], object]) -> Iterator[None]:
    """Run work whose refusal is kept: on a :class:`DomainError` the work is rolled back, then ``record(error)``
    adds the refusal's access events in a second unit of work on the same session, which commits, and the
    error goes on to the caller. Nothing of the refused work is kept but what ``record`` writes.
    """
    try:
        yield
    except DomainError as error:
        session.rollback()
        record(error)
        session.commit()
        raise


def events_for(session: Session, subject: str, *, limit: int = 100) -> list[AccessEvent]:
    """The person's access events, newest first."""
    query = (
        select(AccessEvent)
        .where(AccessEvent.subject == subject)
        .order_by(AccessEvent.occurred_at.desc(), AccessEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def events_by(session: Session, actor: str, *, actions: Iterable[str], limit: int = 20) -> list[AccessEvent]:
    """What one actor did, newest first: their events whose action is one of ``actions`` (a staff member's desk)."""
    query = (
        select(AccessEvent)
        .where(AccessEvent.actor == actor, AccessEvent.action.in_(list(actions)))
        .order_by(AccessEvent.occurred_at.desc(), AccessEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
