"""Instants as the API shows and takes them: always with an offset, in UTC, on both databases.

The platform stores UTC (``core.clock``). PostgreSQL hands ``timestamptz`` back with an offset; SQLite
hands back naive values, which would be serialised without one although the document says
``date-time`` (RFC 3339 requires the offset). Every schema field holding an instant uses these types.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from openmyna.core.clock import JST


def as_utc(value: dt.datetime) -> dt.datetime:
    """The same instant in UTC; a naive value is one read back from storage, where instants are UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:  # 0001-01-01 at a positive offset, 9999-12-31 at a negative one
        raise ValueError("the instant falls outside the years 1–9999 in UTC") from exc


def to_json(value: dt.datetime) -> str:
    """RFC 3339 text of an instant, as pydantic writes a :data:`UtcDateTime` (``…Z``), for hand-built JSON."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[dt.datetime, AfterValidator(as_utc)]
"""An instant the platform answers with (read from storage or the clock)."""

UtcDateTimeIn = Annotated[AwareDatetime, AfterValidator(as_utc)]
"""An instant a client sends: the offset is required (RFC 3339), so "9 o'clock" is never guessed."""


def local_time(value: dt.datetime | None) -> str:
    """An instant as Japan's wall-clock time (stored instants are UTC; SQLite hands them back naive)."""
    return "" if value is None else as_utc(value).astimezone(JST).strftime("%Y-%m-%d %H:%M")
