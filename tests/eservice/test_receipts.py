"""Receipt dates: before 17:00 on a business day that day, otherwise the next business day (hypothesis)."""

from __future__ import annotations

import datetime as dt

import jpholiday
from hypothesis import given
from hypothesis import strategies as st

from openmyna.core.clock import JST
from openmyna.eservice.receipts import CUT_OFF, is_business_day, next_business_day, receipt_date, receipt_number

instants = st.datetimes(min_value=dt.datetime(2016, 1, 1), max_value=dt.datetime(2035, 12, 31), timezones=st.just(JST))


@given(instants)
def test_the_receipt_date_is_the_first_business_day_that_may_receive_it(received: dt.datetime) -> None:
    day = receipt_date(received)
    local = received.astimezone(JST)
    assert is_business_day(day)
    assert day >= local.date()
    assert day.weekday() < 5 and not jpholiday.is_holiday(day)
    assert not ((day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3))
    if is_business_day(local.date()) and local.time() < CUT_OFF:
        assert day == local.date()
    else:  # no business day is skipped between the arrival and its receipt date
        assert day == next_business_day(local.date())
        between = local.date() + dt.timedelta(days=1)
        while between < day:
            assert not is_business_day(between)
            between += dt.timedelta(days=1)


@given(instants)
def test_the_same_instant_in_utc_gives_the_same_date(received: dt.datetime) -> None:
    assert receipt_date(received.astimezone(dt.UTC)) == receipt_date(received)


def test_known_dates() -> None:
    at = lambda *a: dt.datetime(*a, tzinfo=JST)  # noqa: E731
    assert receipt_date(at(2026, 12, 11, 16, 59, 59)) == dt.date(2026, 12, 11)  # Friday before 17:00
    assert receipt_date(at(2026, 12, 11, 17, 0)) == dt.date(2026, 12, 14)  # Friday at 17:00: Monday
    assert receipt_date(at(2026, 12, 28, 17, 30)) == dt.date(2027, 1, 4)  # year-end closure
    assert receipt_date(at(2027, 1, 1, 9, 0)) == dt.date(2027, 1, 4)
    assert receipt_date(at(2026, 5, 2, 10, 0)) == dt.date(2026, 5, 7)  # Golden Week (3–6 May, substitute holiday)
    assert receipt_date(at(2026, 9, 21, 10, 0)) == dt.date(2026, 9, 24)  # 敬老の日, 国民の休日, 秋分の日
    assert receipt_number("131016", dt.date(2026, 12, 14), 42) == "131016-20261214-00000042"
