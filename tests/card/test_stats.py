"""The statistics period: counted by arithmetic, and bounded so no request can hold a CPU."""

from __future__ import annotations

import datetime as dt
import time

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from openmyna.card import stats

days = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2100, 12, 31))


@settings(deadline=None)  # a day-by-day reference count is slow on a loaded machine
@given(start=days, length=st.integers(min_value=0, max_value=800))
def test_business_days_by_arithmetic_equal_a_day_by_day_count(start: dt.date, length: int) -> None:
    end = start + dt.timedelta(days=length)
    by_day = sum(stats.business_day(start + dt.timedelta(days=i)) for i in range(length + 1))
    assert stats.business_days_between(start, end) == by_day


def test_the_longest_period_is_answered_at_once_and_a_longer_one_refused(client: TestClient) -> None:
    end = dt.date(2026, 12, 1)
    start = end - dt.timedelta(days=stats.MAX_PERIOD_DAYS - 1)
    began = time.monotonic()
    longest = client.get("/api/card/stats", params={"from": start.isoformat(), "to": end.isoformat()})
    assert longest.status_code == 200, longest.text
    assert time.monotonic() - began < 2
    for path in ("/api/card/stats", "/card/stats"):
        refused = client.get(path, params={"from": "0001-01-01", "to": "9999-12-31"})
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/period-too-long")
