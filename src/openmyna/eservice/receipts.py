"""Receipt dates by the rules of online procedures, and receipt numbers.

An application arriving online is received the moment it arrives (it is recorded to the second), but
its receipt date (受付日) is a business day of the municipality: a submission on a business day before
17:00 JST is dated that day; one at or after 17:00, on a Saturday or Sunday, a national holidays
(``jpholiday``, including substitute holidays) or the year-end closure 12/29–1/3 is dated the next
business day. The cut-off follows the usual office hours of municipal counters (8:30–17:15 in many
towns; 17:00 is the common rounded cut-off of online services) and is one constant here.
"""

from __future__ import annotations

import datetime as dt

import jpholiday

from openmyna.core.clock import JST

CUT_OFF = dt.time(17, 0)


def is_year_end_closure(day: dt.date) -> bool:
    """12/29–1/3 (年末年始), when municipal offices are closed."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and not jpholiday.is_holiday(day) and not is_year_end_closure(day)


def next_business_day(day: dt.date) -> dt.date:
    """The first business day strictly after ``day``."""
    day += dt.timedelta(days=1)
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def receipt_date(received_at: dt.datetime) -> dt.date:
    """The receipt date of an application that arrived at ``received_at`` (an aware instant)."""
    local = received_at.astimezone(JST)
    if is_business_day(local.date()) and local.time() < CUT_OFF:
        return local.date()
    return next_business_day(local.date())


def receipt_number(municipality_code: str, day: dt.date, application_id: int) -> str:
    """``<municipality>-<yyyymmdd>-<id, 8 digits>``: unique (the id is), readable over the phone."""
    return f"{municipality_code}-{day:%Y%m%d}-{application_id:08d}"
