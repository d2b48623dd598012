"""Login throttling kept in the database: failures per key within a window, then a lockout.

A key names what is throttled: an account (``staff:alice``) or a client address (``address:192.0.2.1``).
The rows live in the database, so every process agrees. :func:`guard` holds the account's row from the
check until the transaction ends (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's single writer does the
same), so parallel guesses at one account are judged one after another and never exceed its limit. An
address's count is only incremented atomically: it may overshoot by the requests already in flight.

A refused or failed login is a fact to keep, not an error to roll back: callers record it in a unit of
work that commits (see ``orgs.accounts``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, String, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from openmyna.core import clock
from openmyna.core.config import Settings
from openmyna.core.db import Base
from openmyna.core.errors import DomainError
from openmyna.core.timefmt import as_utc

KEY_LENGTH = 128


class LoginLocked(DomainError):
    """Too many failed logins for this account or from this address; ``retry_after`` says for how long."""

    slug = "login-locked"
    status = 429
    title_ja = "ログインが一時的に制限されています"
    title_en = "Logins are temporarily locked"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s", retry_after=retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """``failures`` within ``window`` lock the key for ``lockout``."""

    failures: int
    window: dt.timedelta
    lockout: dt.timedelta


@dataclass(frozen=True)
class Policy:
    account: Limit
    address: Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        window = dt.timedelta(seconds=settings.login_failure_window_seconds)
        lockout = dt.timedelta(seconds=settings.login_lockout_seconds)
        return cls(
            account=Limit(settings.login_account_failures, window, lockout),
            address=Limit(settings.login_address_failures, window, lockout),
        )


class LoginThrottle(Base):
    """Failed logins of one key in its current window, and until when the key is locked."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def address_key(address: str) -> str:
    return f"address:{address}"


def _now() -> dt.datetime:
    return clock.now().astimezone(dt.UTC)  # one zone on both databases: SQLite keeps no offset


def _insert(session: Session) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(LoginThrottle)


def guard(session: Session, *, account: str, address: str) -> None:
    """Hold ``account``'s row for this transaction; raise :class:`LoginLocked` while it or ``address`` is locked."""
    now = _now()
    session.execute(_insert(session).values(key=account, failures=0, window_started_at=now).on_conflict_do_nothing())
    held = session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == account).with_for_update())
    other = session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == address))
    until = max((as_utc(value) for value in (held, other) if value is not None), default=None)
    if until is not None and until > now:
        raise LoginLocked(math.ceil((until - now).total_seconds()))


def record_failure(session: Session, *, account: str, address: str, policy: Policy) -> list[str]:
    """Count a failed login against both keys; return the keys this failure locked."""
    now = _now()
    locked = []
    for key, limit in ((account, policy.account), (address, policy.address)):
        stale = LoginThrottle.window_started_at <= now - limit.window
        statement = (
            _insert(session)
            .values(key=key, failures=1, window_started_at=now)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
                    "window_started_at": case((stale, now), else_=LoginThrottle.window_started_at),
                },
            )
            .returning(LoginThrottle.failures)
        )
        if session.scalar(statement) >= limit.failures:
            session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(failures=0, window_started_at=now, locked_until=now + limit.lockout)
            )
            locked.append(key)
    _purge(session, now - max(policy.account.window, policy.address.window), now)
    return locked


def _purge(session: Session, window_start: dt.datetime, now: dt.datetime) -> None:
    """Forget keys whose window and lockout are over, skipping rows another login holds (no waits, no deadlock)."""
    stale = (
        select(LoginThrottle.key)
        .where(LoginThrottle.window_started_at < window_start)
        .where((LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now))
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(stale.scalar_subquery())))


def record_success(session: Session, *, account: str) -> None:
    """A successful login clears the account's failures (not the address's: one good password must not
    let an address go on guessing at other accounts)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == account))


def unlock(session: Session, key: str) -> bool:
    """Lift ``key``'s lockout and forget its failures; whether it was locked."""
    until = session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == key))
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
    return until is not None and as_utc(until) > _now()


def locked_keys(session: Session) -> list[tuple[str, dt.datetime]]:
    """The keys locked now, with when each lockout ends."""
    query = (
        select(LoginThrottle.key, LoginThrottle.locked_until)
        .where(LoginThrottle.locked_until > _now())
        .order_by(LoginThrottle.key)
    )
    return [(key, as_utc(until)) for key, until in session.execute(query) if until is not None]
