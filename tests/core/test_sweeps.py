"""``core.db.Sweeps``: a hot path's sweep of dead rows runs at most once per interval of the platform clock."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from openmyna.core.db import Sweeps

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def test_a_sweep_is_due_once_per_interval_per_database_and_name() -> None:
    sweeps = Sweeps(dt.timedelta(seconds=5))
    one, two = create_engine("sqlite://"), create_engine("sqlite:///other.db")
    with Session(one) as a, Session(two) as b:
        assert sweeps.due(a, "web_sessions", T0)
        assert not sweeps.due(a, "web_sessions", T0 + dt.timedelta(seconds=4.9))
        assert sweeps.due(a, "portal_login_transactions", T0)  # another table: its own schedule
        assert sweeps.due(b, "web_sessions", T0)  # another database: its own schedule
        assert sweeps.due(a, "web_sessions", T0 + dt.timedelta(seconds=5))
        assert not sweeps.due(a, "web_sessions", T0 + dt.timedelta(seconds=6))


def test_a_clock_set_back_or_moved_past_a_timeout_sweeps_at_once() -> None:
    sweeps = Sweeps(dt.timedelta(seconds=5))
    with Session(create_engine("sqlite://")) as session:
        assert sweeps.due(session, "web_sessions", T0)
        assert sweeps.due(session, "web_sessions", T0 - dt.timedelta(hours=1))  # a test's frozen clock, earlier
        assert sweeps.due(session, "web_sessions", T0 + dt.timedelta(minutes=30))  # past an idle timeout
