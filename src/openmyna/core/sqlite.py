"""SQLite tuning for a busy single-file database: WAL, and a writer queue that blocks instead of sleeping.

Nearly every request writes (an access event at least), and SQLite admits one writer at a time. Its own
busy handler retries by sleeping (1, 2, 5 … 100 ms), which turns a queue of writers into second-long
tails. Here each transaction first takes an exclusive ``flock`` on a side file: waiting writers, in any
thread or process, block in the kernel and are woken the moment the lock is released after COMMIT.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (SAVEPOINT needs it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class WriterQueue:
    """One lock file beside the database; one descriptor per pooled connection (flock is per descriptor)."""

    def __init__(self, database: str) -> None:
        self.path = database + ".lock"
        self.descriptors: dict[int, int] = {}

    def install(self, engine: Engine) -> None:
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "close", self._closed)
        event.listen(engine, "close_detached", self._detached)
        event.listen(engine, "begin", self._begin)
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        self.descriptors[id(dbapi_connection)] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def _closed(self, dbapi_connection: Any, _record: Any) -> None:
        self._detached(dbapi_connection)

    def _detached(self, dbapi_connection: Any) -> None:
        descriptor = self.descriptors.pop(id(dbapi_connection), None)
        if descriptor is not None:
            os.close(descriptor)  # closing the descriptor also drops its lock

    def _begin(self, connection: Connection) -> None:
        descriptor = self.descriptors[id(connection.connection.dbapi_connection)]
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            raise

    def _release(self, dbapi_connection: Any) -> None:
        # SQLAlchemy hands do_commit/do_rollback the pool's proxy; the descriptor is keyed by the raw connection.
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        descriptor = self.descriptors.get(id(raw))
        if descriptor is not None:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def configure(engine: Engine, database: str | None) -> None:
    """WAL and pragmas on every connection; BEGIN IMMEDIATE behind the writer queue for file databases."""
    event.listen(engine, "connect", _pragmas)
    if database and database != ":memory:":
        WriterQueue(database).install(engine)
    else:
        event.listen(engine, "begin", _begin_immediate)
