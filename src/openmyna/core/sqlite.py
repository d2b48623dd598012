"""SQLite tuning for a busy single-file database: WAL, a bounded writer queue, and read-only engines.

SQLite admits one writer at a time, and its own busy handler retries by sleeping (1, 2, 5 … 100 ms),
which turns a queue of writers into second-long tails. Here a writing transaction first takes the
process's writer lock (threads wake the moment it is released) and then an exclusive ``flock`` on a
side file (the same queue across processes), and only then runs ``BEGIN IMMEDIATE``.

Both waits are bounded (:class:`WriterBusy`, a 503 with Retry-After, when the writer is not free in
time), so no request waits for ever. What keeps the waits short is the rule of ``core.web``: a
transaction begins and ends inside one synchronous call, so the holder is always running, never
waiting for a thread that the waiters occupy. Read-only engines never take the writer at all: in WAL
mode a reader sees its snapshot whatever the writer does.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

from openmyna.core.errors import DomainError

# How long a writer may wait for its turn before the request is answered 503 (seconds).
WRITER_WAIT_SECONDS = 10.0
# Another process holds the file lock for about one transaction (a millisecond or two): poll at that grain.
_FLOCK_POLL_SECONDS = (0.0002, 0.0005, 0.001, 0.002)


class WriterBusy(DomainError):
    """The database's single writer stayed busy for longer than a request may wait."""

    slug = "writer-busy"
    status = 503
    title_ja = "混み合っています。しばらくしてからお試しください"
    title_en = "Busy; try again shortly"


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (SAVEPOINT needs it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A backstop only: the writer queue admits one writer at a time, so SQLite's own wait is rare.
    cursor.execute(f"PRAGMA busy_timeout={int(WRITER_WAIT_SECONDS * 1000)}")
    cursor.close()


def _read_only_pragmas(dbapi_connection: Any, record: Any) -> None:
    _pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # a write on a read-only session fails loudly, never waits
    cursor.close()


class WriterQueue:
    """The writer lock of one database file: a lock in this process, then ``flock`` across processes.

    ``flock`` is per open file description, so each pooled connection opens the side file itself;
    the process lock is released by whichever thread ends the transaction (``threading.Lock`` allows it).
    """

    def __init__(self, database: str, *, wait_seconds: float = WRITER_WAIT_SECONDS) -> None:
        self.path = database + ".lock"
        self.wait_seconds = wait_seconds
        self.descriptors: dict[int, int] = {}
        self.holder: int | None = None  # id() of the DB-API connection that holds the writer
        self._process_lock = threading.Lock()

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
        self._release(dbapi_connection)
        descriptor = self.descriptors.pop(id(dbapi_connection), None)
        if descriptor is not None:
            os.close(descriptor)  # closing the descriptor also drops its flock

    def _begin(self, connection: Connection) -> None:
        raw = connection.connection.dbapi_connection
        descriptor = self.descriptors[id(raw)]
        deadline = time.monotonic() + self.wait_seconds
        if not self._process_lock.acquire(timeout=self.wait_seconds):
            raise WriterBusy(f"the database writer stayed busy for {self.wait_seconds:g} s", retry_after=1)
        self.holder = id(raw)
        try:
            self._flock(descriptor, deadline)
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
                raise
        except BaseException:
            self.holder = None
            self._process_lock.release()
            raise

    def _flock(self, descriptor: int, deadline: float) -> None:
        """Another process may hold the file: poll, with short sleeps, until the deadline."""
        attempt = 0
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriterBusy("another process held the database writer too long", retry_after=1) from None
                time.sleep(_FLOCK_POLL_SECONDS[min(attempt, len(_FLOCK_POLL_SECONDS) - 1)])
                attempt += 1

    def _release(self, dbapi_connection: Any) -> None:
        # SQLAlchemy hands do_commit/do_rollback the pool's proxy; the descriptor is keyed by the raw connection.
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        if self.holder != id(raw):
            return  # this connection holds no writer (a rollback of a failed begin, or a pool reset)
        self.holder = None
        descriptor = self.descriptors.get(id(raw))
        if descriptor is not None:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
        self._process_lock.release()


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def configure(engine: Engine, database: str | None, *, read_only: bool = False) -> None:
    """Pragmas on every connection; writers queue for ``BEGIN IMMEDIATE``, readers begin deferred."""
    if read_only:
        event.listen(engine, "connect", _read_only_pragmas)
        event.listen(engine, "begin", _begin_deferred)
        return
    event.listen(engine, "connect", _pragmas)
    if database and database != ":memory:":
        WriterQueue(database).install(engine)
    else:
        event.listen(engine, "begin", _begin_immediate)
