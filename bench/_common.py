"""Helpers shared by the ``bench_*.py`` scripts: the database to run on, machine facts, one JSON line out.

Not a benchmark itself (``make bench`` runs ``bench/bench_*.py`` only). Every script keeps stdout for its
single JSON result line; anything else, including what the code under test might print, goes to stderr.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PG_URL_ENV = "OPENMYNA_BENCH_PG_URL"
PG_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_PREFIX = "openmyna_bench_"
# The master key of every benchmark database: fixed, so cached databases and child processes agree.
DATA_KEY_BYTES = bytes(32)
DATA_KEY = base64.b64encode(DATA_KEY_BYTES).decode()

_real_stdout: TextIO = sys.stdout


def _cpu_jiffies() -> tuple[int, int] | None:
    """``(busy, total)`` jiffies of all CPUs from ``/proc/stat`` (None off Linux)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


_CPU_AT_START = _cpu_jiffies()
_WALL_AT_START = time.monotonic()


def log(message: str) -> None:
    """A progress line on stderr, with a wall-clock stamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help=f"backend; postgresql makes a fresh database from ${PG_URL_ENV} (default {PG_URL_DEFAULT}) and drops it",
    )


def cpu_mark() -> tuple[tuple[int, int] | None, float]:
    """A mark to pass to :func:`cpu_busy_cores_since`, for the busy cores of one timed window."""
    return _cpu_jiffies(), time.monotonic()


def cpu_busy_cores_since(mark: tuple[tuple[int, int] | None, float]) -> float | None:
    """The whole machine's average number of busy cores since ``mark`` (every process counted)."""
    start, now = mark[0], _cpu_jiffies()
    if not start or not now or now[1] <= start[1]:
        return None
    return round((now[0] - start[0]) / (now[1] - start[1]) * (os.cpu_count() or 1), 2)


def machine() -> dict[str, Any]:
    """Facts about the machine the figures came from, and how busy it was while the script ran.

    ``cpu_busy_cores`` is the whole machine's average number of busy cores since the script started
    (this benchmark, its server and database processes included): near ``cpu_count`` means contention.
    """
    busy = cpu_busy_cores_since((_CPU_AT_START, _WALL_AT_START))
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_busy_cores": busy,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def code_version() -> dict[str, Any]:
    """Which openmyna was measured: where it was imported from and the repository's commit and state."""
    import subprocess

    import openmyna

    source = Path(openmyna.__file__).resolve().parent.parent
    info: dict[str, Any] = {"openmyna_from": str(source), "version": getattr(openmyna, "__version__", None)}
    try:
        git = ["git", "--no-optional-locks", "-C", str(source)]  # read-only: never touches the index
        info["commit"] = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=True)
        info["src_dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = os.environ.get("OPENMYNA_BENCH_COMMIT")  # e.g. a `git archive` snapshot on PYTHONPATH
    return info


def percentile(sorted_samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted samples (``fraction`` 0.99 for p99)."""
    if not sorted_samples:
        raise ValueError("no samples")
    rank = max(1, math.ceil(len(sorted_samples) * fraction))
    return sorted_samples[rank - 1]


def latency_summary(samples_s: Sequence[float]) -> dict[str, float]:
    """Median, p95, p99, min and max of latencies given in seconds, reported in milliseconds."""
    ordered = sorted(samples_s)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 3),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 3),
        "min_ms": round(ordered[0] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def run_threads(
    threads: int, seconds: float, work: Callable[[int], None], more: Callable[[int], bool] = lambda _i: True
) -> tuple[int, float, list[float]]:
    """The client thread loop of the HTTP benchmarks: ``work(thread)`` repeated by each of ``threads`` threads
    until ``seconds`` have passed (or while ``more(thread)``); the calls made, the elapsed seconds and every
    call's latency. The first error of any thread is raised once all have stopped."""
    samples: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        try:
            while time.perf_counter() < deadline and more(index):
                started = time.perf_counter()
                work(index)
                samples[index].append(time.perf_counter() - started)
        except BaseException as exc:  # raised below: a failed call fails the benchmark
            errors.append(exc)

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    flat = [s for per in samples for s in per]
    return len(flat), time.perf_counter() - started, flat


def emit(result: dict[str, Any]) -> None:
    """Print the one JSON result line on the real stdout."""
    _real_stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
    _real_stdout.flush()


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Keep stdout clean for the JSON line, whatever the code under test prints."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def pg_admin_url() -> str:
    return os.environ.get(PG_URL_ENV, PG_URL_DEFAULT)


def _pg_url_for(database: str) -> str:
    from sqlalchemy.engine import make_url

    from openmyna.core.db import normalise_url

    return make_url(normalise_url(pg_admin_url())).set(database=database).render_as_string(hide_password=False)


def _pg_admin(statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the admin database (autocommit); its rows, if it returns any."""
    import psycopg

    from openmyna.core.db import normalise_url

    url = normalise_url(pg_admin_url()).replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(statement, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def kept_postgresql_database(name: str) -> str:
    """The URL of PostgreSQL database ``name`` on the server of ``$OPENMYNA_BENCH_PG_URL``, created if missing."""
    if not _pg_admin("SELECT 1 FROM pg_database WHERE datname = %s", (name,)):
        _pg_admin(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    return _pg_url_for(name)


@contextlib.contextmanager
def fresh_database(backend: str, label: str, *, keep_dir: bool = False) -> Iterator[tuple[str, Path]]:
    """A new empty database and a scratch var dir, both removed on exit: ``(url, var_dir)``.

    SQLite: a file in the scratch dir. PostgreSQL: ``openmyna_bench_<label>_<pid>`` on the server of
    ``$OPENMYNA_BENCH_PG_URL``, dropped (``WITH (FORCE)``) on exit.
    """
    var_dir = Path(tempfile.mkdtemp(prefix=f"{PG_PREFIX}{label}_"))
    name = f"{PG_PREFIX}{label}_{os.getpid()}"
    try:
        if backend == "sqlite":
            yield f"sqlite:///{var_dir / 'bench.db'}", var_dir
        else:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _pg_admin(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
            log(f"created PostgreSQL database {name}")
            try:
                yield _pg_url_for(name), var_dir
            finally:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                log(f"dropped PostgreSQL database {name}")
    finally:
        if not keep_dir:
            shutil.rmtree(var_dir, ignore_errors=True)


@contextlib.contextmanager
def demo_world(backend: str, label: str, *, residents: int = 60, seed: int = 7) -> Iterator[tuple[str, Path, Any, Any]]:
    """A fresh database with the demo world seeded (``seed_world``, as ``make run`` does, smaller).

    Yields the database URL, the var directory, the open context and the seed's report; the context's engine
    is disposed on the way out, before the database is dropped.
    """
    from openmyna.app import migrate
    from openmyna.app.seed import seed_world
    from openmyna.core.context import open_context

    with fresh_database(backend, label) as (url, var_dir):
        context = open_context(settings_for(url, var_dir))
        migrate.upgrade(context.engine)
        report = seed_world(context, residents=residents, seed=seed, progress=lambda _n: None)
        try:
            yield url, var_dir, context, report
        finally:
            context.engine.dispose()


def settings_for(url: str, var_dir: Path, **extra: Any) -> Any:
    """Application settings for a benchmark database (fixed master key)."""
    from openmyna.core.config import Settings

    return Settings(database_url=url, var_dir=var_dir, data_key=DATA_KEY, **extra)


def database_bytes(url: str) -> int | None:
    """On-disk size of the database (SQLite file plus WAL, or ``pg_database_size``)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from openmyna.core.db import normalise_url

    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    engine = create_engine(parsed)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    finally:
        engine.dispose()


def floor_load(source_url: str, backend: str, label: str, *, tables: Sequence[str] | None = None) -> dict[str, Any]:
    """The database's own cost of writing what a workload wrote: the floor of an in-process bulk workload.

    Every row of ``tables`` (default: every table with rows in the source) is read from ``source_url``
    beforehand, untimed, and written into the same tables of a fresh database of ``backend`` (migrated, so with
    the same indexes and constraints) by a plain ``COPY … FROM STDIN (FORMAT binary)`` (PostgreSQL) or
    ``executemany`` (SQLite), parents before children, in one transaction, committed. Returns the timed seconds
    (writes and commit) and the rows per table.
    """
    from openmyna.app import migrate
    from openmyna.core.db import make_engine

    with fresh_database(backend, f"{label}_floor") as (target_url, _var_dir):
        source, target = make_engine(source_url), make_engine(target_url)
        try:
            migrate.upgrade(target)
            return _floor_load(source, target, tables)
        finally:
            source.dispose()
            target.dispose()


def _floor_load(source: Any, target: Any, tables: Sequence[str] | None) -> dict[str, Any]:
    """Tables the migration filled (the key state, FTS5's own shadow tables) are emptied first, untimed, and
    loaded whole; SQLite's FTS5 virtual tables are skipped, their shadow tables copied as the rows they are."""
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(target)
    with source.connect() as read, target.connect() as write:
        virtual = {
            name
            for (name,) in write.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'"
                if target.dialect.name == "sqlite"
                else "SELECT NULL WHERE false"
            )
        }
        names = [t.name for t in metadata.sorted_tables if tables is None or t.name in tables]
        counts = {n: read.exec_driver_sql(f'SELECT count(*) FROM "{n}"').scalar() or 0 for n in names}
        counts = {n: c for n, c in counts.items() if c and n not in virtual}
        for name in reversed(counts):
            write.exec_driver_sql(f'DELETE FROM "{name}"')
        write.commit()
        if target.dialect.name == "postgresql":
            seconds = _floor_copy(read, write, counts)
        else:
            seconds = _floor_executemany(read, write, metadata, counts)
    log(f"floor: {sum(counts.values()):,} rows in {len(counts)} tables in {seconds:.2f} s")
    return {"seconds": seconds, "rows": counts}


def _floor_copy(read: Any, write: Any, counts: dict[str, int]) -> float:
    """PostgreSQL: each table dumped by binary ``COPY TO`` into a scratch file, then timed ``COPY FROM``."""
    with tempfile.TemporaryDirectory(prefix=f"{PG_PREFIX}floor_") as scratch:
        files = {name: Path(scratch) / f"{name}.copy" for name in counts}
        with read.connection.driver_connection.cursor() as cursor:
            for name, path in files.items():
                with path.open("wb") as out, cursor.copy(f'COPY "{name}" TO STDOUT (FORMAT binary)') as copy:
                    for block in copy:
                        out.write(block)
        started = time.perf_counter()
        with write.begin(), write.connection.driver_connection.cursor() as cursor:
            for name, path in files.items():
                with path.open("rb") as data, cursor.copy(f'COPY "{name}" FROM STDIN (FORMAT binary)') as copy:
                    while block := data.read(1 << 20):
                        copy.write(block)
        return time.perf_counter() - started


def _floor_executemany(read: Any, write: Any, metadata: Any, counts: dict[str, int], chunk: int = 10_000) -> float:
    """SQLite: each table read in chunks of driver-ready tuples (untimed), each chunk timed by ``executemany``."""
    seconds = 0.0
    started = time.perf_counter()
    with write.begin():
        seconds += time.perf_counter() - started
        for name in counts:
            columns = [c.name for c in metadata.tables[name].columns]
            names = ", ".join(f'"{c}"' for c in columns)
            insert = f'INSERT INTO "{name}" ({names}) VALUES ({", ".join("?" for _ in columns)})'
            cursor = read.connection.driver_connection.execute(f'SELECT {names} FROM "{name}"')
            while rows := cursor.fetchmany(chunk):
                started = time.perf_counter()
                write.exec_driver_sql(insert, rows)
                seconds += time.perf_counter() - started
        started = time.perf_counter()
    return seconds + time.perf_counter() - started


def floor_read(url: str, tables: Sequence[str]) -> dict[str, Any]:
    """The database's own cost of reading what a read-mostly workload reads: every row of ``tables`` streamed
    to the client and dropped (``COPY … TO STDOUT (FORMAT binary)`` on PostgreSQL, a cursor's ``fetchmany`` on
    SQLite), one table after another on one connection. Returns the timed seconds and the rows per table."""
    from openmyna.core.db import make_engine

    engine = make_engine(url)
    rows: dict[str, int] = {}
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            started = time.perf_counter()
            for name in tables:
                if engine.dialect.name == "postgresql":
                    with raw.cursor() as cursor, cursor.copy(f'COPY "{name}" TO STDOUT (FORMAT binary)') as copy:
                        for _block in copy:
                            pass
                    rows[name] = cursor.rowcount
                else:
                    cursor, rows[name] = raw.execute(f'SELECT * FROM "{name}"'), 0
                    while chunk := cursor.fetchmany(10_000):
                        rows[name] += len(chunk)
            seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    log(f"floor: read {sum(rows.values()):,} rows of {len(rows)} tables in {seconds:.2f} s")
    return {"seconds": seconds, "rows": rows}
