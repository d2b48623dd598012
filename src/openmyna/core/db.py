"""Engines, sessions, the declarative base and bulk loading, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, Engine, LargeBinary, MetaData, Table, create_engine, delete
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from openmyna.core import sqlite

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Connections per engine: more than the request threads (Settings.worker_threads) plus the scheduled jobs.
POOL_SIZE = 10


class Base(DeclarativeBase):
    """Declarative base of every table, with stable constraint names on both databases."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL mode, foreign keys and the writer queue (``core.sqlite``)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False}, pool_size=POOL_SIZE, max_overflow=POOL_SIZE
        )
        sqlite.configure(engine, parsed.database)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=POOL_SIZE,
        max_overflow=2 * POOL_SIZE,
        pool_pre_ping=True,
        # A statement waits at most this long for a row lock, then fails (answered 503), never for ever.
        connect_args={"options": f"-c lock_timeout={int(sqlite.WRITER_WAIT_SECONDS * 1000)}"},
    )


def make_read_engine(engine: Engine) -> Engine:
    """An engine for read-only units of work beside ``engine``: they never take the writer.

    SQLite: its own pool on the same file, deferred ``BEGIN`` and ``PRAGMA query_only``. PostgreSQL:
    the same pool, each transaction ``READ ONLY``. An in-memory SQLite database has one writer engine only.
    """
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            return engine
        reader = create_engine(
            engine.url,
            echo=engine.echo,
            connect_args={"check_same_thread": False},
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE,
        )
        sqlite.configure(reader, database, read_only=True)
        return reader
    return engine.execution_options(postgresql_readonly=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgresql(bind: Engine | Connection | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


class Sweeps:
    """When a hot path's sweep of dead rows (expired sessions, challenges) last ran, per database and table.

    Dead rows are refused by every reader's own condition, so the sweep only keeps tables small: running it
    on every login made each login pay a scan and a write for nothing. :meth:`due` says yes at most once per
    ``interval`` of the platform clock (``core.clock``: a test that moves the clock past a timeout is swept at
    once; a clock set back counts as due). Per process: each worker sweeps on its own schedule.
    """

    def __init__(self, interval: dt.timedelta) -> None:
        self.interval = interval
        self._last: dict[tuple[str, str], dt.datetime] = {}

    def due(self, session: Session, name: str, now: dt.datetime) -> bool:
        key = (str(session.get_bind().engine.url), name)
        last = self._last.get(key)
        if last is not None and dt.timedelta(0) <= now - last < self.interval:
            return False
        self._last[key] = now
        return True

    def drop_older(self, session: Session, column: Any, before: dt.datetime, now: dt.datetime) -> None:
        """Delete the rows of ``column``'s table whose ``column`` is at or before ``before``, when :meth:`due`."""
        if self.due(session, column.table.name, now):
            session.execute(
                delete(column.table).where(column <= before), execution_options={"synchronize_session": False}
            )


SWEEPS = Sweeps(dt.timedelta(seconds=5))


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    freeze: bool = False,
) -> None:
    """Insert many rows fast: ``COPY`` on PostgreSQL, ``executemany`` elsewhere.

    Runs inside the caller's transaction, so an interrupted load leaves nothing behind. ``freeze``
    (PostgreSQL only, for a table created or truncated in this transaction) writes the rows already
    frozen and visible, so no later reader or VACUUM has to touch every page again to mark them.
    """
    if connection.dialect.name == "postgresql":
        # psycopg adapts each value (in C with psycopg[binary]); JSON columns are serialised first.
        as_json = [i for i, c in enumerate(columns) if c in table.c and isinstance(table.c[c].type, JSON)]
        raw = connection.connection.driver_connection
        cols = ", ".join(f'"{c}"' for c in columns)
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({cols}) FROM STDIN{" (FREEZE)" if freeze else ""}') as copy,
        ):
            for row in rows:
                if as_json:
                    row = [json.dumps(v, ensure_ascii=False) if i in as_json else v for i, v in enumerate(row)]
                copy.write_row(row)
        return
    # Only the processors that change a value: sqlite3 binds bytes as they are (LargeBinary's only wraps them).
    converters = [
        (i, processor)
        for i, c in enumerate(columns)
        if type(table.c[c].type) is not LargeBinary
        and (processor := table.c[c].type.bind_processor(connection.dialect)) is not None
    ]
    values = [_converted(row, converters) for row in rows] if converters else list(rows)
    if not values:  # an empty list would be taken as "no parameters" and run the statement once, unbound
        return
    placeholders = ", ".join("?" for _ in columns)
    cols = ", ".join(f'"{c}"' for c in columns)
    connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({cols}) VALUES ({placeholders})', values)


def _converted(row: Sequence[Any], converters: Sequence[tuple[int, Any]]) -> tuple[Any, ...]:
    values = list(row)
    for i, processor in converters:
        values[i] = processor(values[i])
    return tuple(values)


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector for a bulk load: it allocates millions of short-lived tuples and makes
    few cycles, and each full collection walks every live object (measured: the NTA import's parsing 35 → 11.5
    µs a row; seeding 100,000 residents spent 8 of 56 s in full collections)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def sqlite_page_cache(connection: Connection, kib: int) -> Iterator[None]:
    """SQLite: a page cache of ``kib`` KiB on ``connection`` for a bulk write, the previous size restored after.

    Rows inserted at random places of an index (a hash, a random number) need the index's pages: with the
    default 2 MB they are spilled to the WAL mid-transaction and read back, at about twice the CPU. Pages
    dirtied meanwhile stay in memory until the transaction ends. PostgreSQL: nothing (the server's buffers)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{kib}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


def prefix_match(column: Any, prefix: str) -> Any:
    """``column`` starts with ``prefix``, as a range an ordinary B-tree index serves on both databases.

    Binary (code-point) order makes ``[prefix, prefix + U+FFFF)`` exactly the strings with that prefix.
    """
    return column.between(prefix, prefix + "\uffff")


def reset_sequence(connection: Connection, table: Table, column: str = "id") -> None:
    """After loading explicit ids on PostgreSQL, move the id sequence past them (no-op on SQLite)."""
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', '{column}'), "
        f'COALESCE((SELECT MAX("{column}") FROM "{table.name}"), 0) + 1, false)'
    )
