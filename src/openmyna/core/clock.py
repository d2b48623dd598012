"""The single source of "now", so tests and demos can move time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

JST = dt.timezone(dt.timedelta(hours=9), "JST")

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """Current time, timezone-aware (UTC), or the frozen instant in tests."""
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in Japan, where every legal date of the platform is counted."""
    return now().astimezone(JST).date()


@contextmanager
def frozen_at(instant: dt.datetime) -> Iterator[None]:
    """Freeze :func:`now` at ``instant`` (naive values are taken as JST)."""
    global _frozen
    previous = _frozen
    _frozen = instant if instant.tzinfo else instant.replace(tzinfo=JST)
    try:
        yield
    finally:
        _frozen = previous
