"""What other parts and the routers use: look up corporations, their history and activities, and API tokens.

Plain functions over a Session or Connection; they never commit. Reads go through SQLAlchemy Core on the
hot paths (detail by number, search) because the ORM's per-row cost dominates at these sizes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from collections import deque
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.errors import DomainError, InvalidInput, NotFound
from openmyna.corporate import activity as activity_service
from openmyna.corporate import search as search_module
from openmyna.corporate.models import Activity, ApiToken, Corporation, CorporationVersion
from openmyna.numbers.formats import check_corporate_number

__all__ = [
    "CorporationNotFound",
    "RateLimited",
    "RateLimiter",
    "activities",
    "add_activity",
    "corporation",
    "history",
    "issue_token",
    "parse_number",
    "search",
    "verify_token",
]


class CorporationNotFound(NotFound):
    slug = "corporation-not-found"
    title_ja = "法人が見つかりません"
    title_en = "Corporation not found"


class TokenRefused(DomainError):
    slug = "corporate-token"
    status = 401
    title_ja = "APIトークンが正しくありません"
    title_en = "API token missing or invalid"


class RateLimited(DomainError):
    slug = "rate-limited"
    status = 429
    title_ja = "リクエストが多すぎます"
    title_en = "Too many requests"


def parse_number(value: str, *, field: str = "corporate_number") -> int:
    """A valid 13-digit corporate number as its integer key, or InvalidInput saying why not."""
    check = check_corporate_number(value)
    if not check.valid:
        raise InvalidInput(f"{field}: {check.reason}", field=field)
    return int(check.number)


_CURRENT = Corporation.__table__


def corporation(connection: Connection, number: int) -> dict[str, Any]:
    """The current state of one corporation as a mapping of its columns."""
    row = connection.execute(select(_CURRENT).where(_CURRENT.c.number == number)).mappings().first()
    if row is None:
        raise CorporationNotFound(f"no corporation has the number {number}")
    return dict(row)


def history(connection: Connection, number: int) -> list[dict[str, Any]]:
    """Past states, oldest first (by update date, then change date)."""
    table = CorporationVersion.__table__
    query = (
        select(table)
        .where(table.c.number == number)
        .order_by(table.c.update_date, table.c.change_date, table.c.sequence_number)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def activities(connection: Connection, number: int, kind: str | None = None) -> list[dict[str, Any]]:
    """Linked activity records of one corporation, newest first."""
    table = Activity.__table__
    query = select(table).where(table.c.number == number, table.c.linked.is_(True))
    if kind:
        query = query.where(table.c.kind == kind)
    query = query.order_by(table.c.date.desc(), table.c.id.desc())
    return [dict(row) for row in connection.execute(query).mappings()]


def search(
    connection: Connection, filters: search_module.Filters, *, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    """Corporations matching ``filters``, each with ``number_of_activity``."""
    rows = search_module.search(connection, filters, limit=limit, offset=offset)
    counts = search_module.activity_counts(connection, [r["number"] for r in rows])
    for row in rows:
        row["number_of_activity"] = counts.get(row["number"], 0)
    return rows


def add_activity(session: Session, *, org_code: str, **fields: Any) -> dict[str, Any]:
    """Store one activity record sent by an organisation; unknown numbers are kept aside, not refused."""
    try:
        record = activity_service.validate(**fields)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    connection = session.connection()
    inserted, _unlinked = activity_service.store(connection, [record], source=f"org:{org_code}")
    table = Activity.__table__
    row = connection.execute(select(table).where(table.c.digest == record.digest())).mappings().one()
    return {**row, "created": bool(inserted)}


def updated_between(
    connection: Connection, start: dt.date, end: dt.date, *, kind: str | None, limit: int, offset: int
) -> tuple[int, list[int]]:
    """(total, numbers) of corporations whose record (``kind`` None) or activity records of ``kind`` were
    updated between two dates, inclusive."""
    if kind is None:
        numbers = select(_CURRENT.c.number).where(_CURRENT.c.update_date.between(start, end))
    else:
        table = Activity.__table__
        # Stored in UTC (see activity.store); the dates are Japanese days.
        since = dt.datetime.combine(start, dt.time(), tzinfo=clock.JST).astimezone(dt.UTC)
        until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=clock.JST).astimezone(dt.UTC)
        numbers = (
            select(table.c.number)
            .where(
                table.c.kind == kind, table.c.linked.is_(True), table.c.created_at >= since, table.c.created_at < until
            )
            .distinct()
        )
    subquery = numbers.subquery()
    total = connection.execute(select(func.count()).select_from(subquery)).scalar_one()
    page = connection.execute(select(subquery.c.number).order_by(subquery.c.number).limit(limit).offset(offset))
    return total, list(page.scalars())


def by_numbers(connection: Connection, numbers: list[int]) -> list[dict[str, Any]]:
    """Current states of the given corporations with ``number_of_activity``, in the given order."""
    if not numbers:
        return []
    rows = {
        r["number"]: dict(r)
        for r in connection.execute(select(_CURRENT).where(_CURRENT.c.number.in_(numbers))).mappings()
    }
    counts = search_module.activity_counts(connection, numbers)
    out = []
    for number in numbers:
        if number in rows:
            rows[number]["number_of_activity"] = counts.get(number, 0)
            out.append(rows[number])
    return out


def count_corporations(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(_CURRENT)).scalar_one()


# --- API tokens -----------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, *, name: str) -> str:
    """Create an API token for ``name``; the token itself is returned once and only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token needs a name of 1 to 100 characters")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_sha256=_token_hash(token), created_at=clock.now(), revoked=False))
    session.flush()
    return token


_TOKEN_CACHE_SECONDS = 30.0
_token_cache: dict[str, tuple[int, float]] = {}


def verify_token(connection: Connection, token: str | None) -> int:
    """The id of a valid, unrevoked token, or TokenRefused.

    A valid token is remembered for 30 seconds in this process (a revocation takes effect within that time),
    which spares every API request one query.
    """
    if not token:
        raise TokenRefused("send the X-hojinInfo-api-token header")
    digest = _token_hash(token)
    cached = _token_cache.get(digest)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        return cached[0]
    table = ApiToken.__table__
    row = connection.execute(select(table.c.id, table.c.revoked).where(table.c.token_sha256 == digest)).first()
    if row is None or row.revoked:
        _token_cache.pop(digest, None)
        raise TokenRefused("the API token is unknown or revoked")
    if len(_token_cache) > 10_000:
        _token_cache.clear()
    _token_cache[digest] = (row.id, now + _TOKEN_CACHE_SECONDS)
    return row.id


class RateLimiter:
    """A sliding one-second window per token, in this process (each worker counts its own share)."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._hits: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, token_id: int) -> None:
        """Count one request; raise RateLimited (with the seconds to wait) past the limit."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(token_id, deque())
            while hits and now - hits[0] >= 1.0:
                hits.popleft()
            if len(hits) >= self.per_second:
                retry = max(1, int(1.0 - (now - hits[0])) + 1)
                raise RateLimited(f"more than {self.per_second} requests a second", retry_after=retry)
            hits.append(now)
