"""The seed's card table (申請・発行・交付状況): cumulative counts and daily averages over a period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jpholiday
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.card.models import CardEvent
from openmyna.core.errors import InvalidInput

# event, Japanese label, averaged over weekdays only (土日、祝日除く) as the seed does for that row
ROWS: tuple[tuple[str, str, str, bool], ...] = (
    ("applied", "申請受付数", "Applications received", False),
    ("shipped", "発送枚数", "Cards shipped", False),
    ("setup", "交付前設定実施済み数", "Pre-issuance setups done", True),
    ("handed_over", "交付実施済み数", "Cards handed over", True),
)


@dataclass(frozen=True)
class Row:
    event: str
    label_ja: str
    label_en: str
    cumulative: int
    in_period: int
    days: int
    daily_average: float
    weekdays_only: bool


# The longest period a request may ask for: three years and a leap day.
MAX_PERIOD_DAYS = 3 * 365 + 1


class PeriodTooLong(InvalidInput):
    slug = "period-too-long"


def checked_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """``(start, end)`` in order, refused when longer than :data:`MAX_PERIOD_DAYS`."""
    if end < start:
        start, end = end, start
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodTooLong(f"a period may span at most {MAX_PERIOD_DAYS} days", field="from")
    return start, end


def business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and not jpholiday.is_holiday(day)


def weekdays_between(start: dt.date, end: dt.date) -> int:
    """Monday–Friday days in ``start..end`` inclusive, by arithmetic: whole weeks, then the remainder."""
    days = (end - start).days + 1
    weeks, rest = divmod(days, 7)
    first = start.weekday()
    return weeks * 5 + sum((first + i) % 7 < 5 for i in range(rest))


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Weekdays in ``start..end`` that are not national holidays (土日、祝日除く)."""
    holidays = sum(day.weekday() < 5 for day, _name in jpholiday.between(start, end))
    return weekdays_between(start, end) - holidays


def table(session: Session, *, start: dt.date, end: dt.date) -> list[Row]:
    """One row per step: cumulative up to ``end``, and the daily average over ``start``..``end`` inclusive."""
    start, end = checked_period(start, end)
    calendar_days = (end - start).days + 1
    business_days = business_days_between(start, end)
    rows = []
    for event, ja, en, weekdays in ROWS:
        cumulative = session.scalar(
            select(func.count()).select_from(CardEvent).where(CardEvent.event == event, CardEvent.on <= end)
        )
        period = session.scalar(
            select(func.count())
            .select_from(CardEvent)
            .where(CardEvent.event == event, CardEvent.on >= start, CardEvent.on <= end)
        )
        days = business_days if weekdays else calendar_days
        average = round((period or 0) / days, 1) if days else 0.0
        rows.append(Row(event, ja, en, cumulative or 0, period or 0, days, average, weekdays))
    return rows
