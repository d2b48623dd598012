"""The unit of work's guarantees: bounded writer waits, read-only sessions, and one route class everywhere."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from openmyna.app import create_app
from openmyna.core.config import Settings
from openmyna.core.db import make_engine, make_read_engine
from openmyna.core.sqlite import WriterBusy, WriterQueue
from openmyna.core.web import UnitOfWorkRoute


def _sqlite(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'uow.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


def _queue(engine: Engine) -> WriterQueue:
    queue = next(
        listener.__self__
        for listener in engine.dispatch.begin
        if isinstance(getattr(listener, "__self__", None), WriterQueue)
    )
    return queue


def test_a_writer_waits_a_bounded_time_then_is_told_busy(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path)
    _queue(engine).wait_seconds = 0.3
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO t VALUES (1)"))
    started = time.monotonic()
    with pytest.raises(WriterBusy) as caught, engine.connect() as waiter:
        waiter.begin()
    assert 0.25 < time.monotonic() - started < 2
    assert caught.value.status == 503 and caught.value.extensions["retry_after"] == 1
    holder.commit()
    holder.close()
    with engine.begin() as connection:  # the writer is free again after the holder committed
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 1
    engine.dispose()


def test_another_process_holding_the_file_lock_is_also_a_bounded_wait(tmp_path: Path) -> None:
    """Two engines on one file stand for two processes: each has its own process lock, the flock is shared."""
    first, second = _sqlite(tmp_path), make_engine(f"sqlite:///{tmp_path / 'uow.db'}")
    _queue(second).wait_seconds = 0.3
    with first.begin() as holding:
        holding.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(WriterBusy), second.connect() as waiter:
            waiter.begin()
    with second.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (2)"))
    first.dispose()
    second.dispose()


def test_the_writer_is_handed_over_when_another_thread_commits(tmp_path: Path) -> None:
    """A transaction may end in another thread (a dependency's exit): the next writer still gets its turn."""
    engine = _sqlite(tmp_path)
    connection = engine.connect()
    connection.begin()
    connection.execute(text("INSERT INTO t VALUES (1)"))
    ender = threading.Thread(target=connection.commit)
    ender.start()
    ender.join()
    connection.close()
    with engine.begin() as again:
        again.execute(text("INSERT INTO t VALUES (2)"))
    engine.dispose()


def test_readers_never_wait_for_the_writer_and_cannot_write(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path)
    reader = make_read_engine(engine)
    with engine.begin() as writing:
        writing.execute(text("INSERT INTO t VALUES (1)"))
        started = time.monotonic()
        with reader.connect() as reading:  # the writer holds the lock; a reader sees the last commit at once
            assert reading.execute(text("SELECT count(*) FROM t")).scalar() == 0
        assert time.monotonic() - started < 0.5
    with reader.connect() as reading, pytest.raises(OperationalError, match="readonly"):
        reading.execute(text("INSERT INTO t VALUES (2)"))
    engine.dispose()
    reader.dispose()


@pytest.mark.postgres
def test_postgresql_read_sessions_are_read_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with make_read_engine(engine).connect() as reading, pytest.raises(DBAPIError, match="read-only"):
        reading.execute(text("CREATE TEMPORARY TABLE nope (n int)"))


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI keeps an included router's own routes
            yield from _api_routes(route.original_router.routes)


def test_every_route_runs_its_unit_of_work_in_one_call(settings: Settings) -> None:
    """A router made without the route class would bring the deadlock back: none may exist."""
    app = create_app(settings)
    routes = list(_api_routes(app.routes))
    assert len(routes) > 50
    assert [r.path for r in routes if not isinstance(r, UnitOfWorkRoute)] == []
    app.state.engine.dispose()


def test_access_events_for_nobody_write_nothing(db: Session) -> None:
    """``record_accesses`` with no subjects (a bulk step that found no one) is a no-op on both databases."""
    from sqlalchemy import func, select

    from openmyna.core import audit

    before = db.scalar(select(func.count()).select_from(audit.AccessEvent))
    audit.record_accesses(db, subjects=[], actor_org="131016", actor="test", action="test.nobody")
    assert db.scalar(select(func.count()).select_from(audit.AccessEvent)) == before
