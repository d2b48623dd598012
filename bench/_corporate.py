"""Helpers of the corporate benchmarks: the synthetic data set, a loaded database, a server and a token.

Not a benchmark itself. Data sets are cached under ``var/bench/corporate-<rows>/``; loaded SQLite
databases under ``var/bench/corporate-sqlite-<rows>.db``. PostgreSQL databases are fresh and dropped
after the run, unless ``OPENMYNA_BENCH_KEEP_POSTGRESQL=1``: then ``openmyna_bench_corporate_<rows>`` is
loaded once and kept for the next search or detail run (drop it by hand when done; 5M rows take 4.3 GB).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from _common import DATA_KEY, PG_PREFIX, ROOT, fresh_database, kept_postgresql_database, log
from _serve import free_port
from _serve import server as serve

CACHE = ROOT / "var" / "bench"
OPENMYNA = Path(sys.executable).parent / "openmyna"


def env_for(url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "OPENMYNA_DATABASE_URL": url,
        "OPENMYNA_VAR_DIR": str(var_dir),
        "OPENMYNA_DATA_KEY": DATA_KEY,
        "OPENMYNA_CORPORATE_RATE_LIMIT_PER_SECOND": "1000000",
        **extra,
    }


def dataset(rows: int) -> Path:
    """The synthetic NTA files for ``rows`` corporations (written once by ``openmyna corporate synth``)."""
    out = CACHE / f"corporate-{rows}"
    if not (out / "activity.csv").exists():
        log(f"writing the synthetic data set of {rows:,} corporations to {out}")
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([str(OPENMYNA), "corporate", "synth", "--rows", str(rows), "--out", str(out)],
                       check=True, stdout=sys.stderr)  # fmt: skip
    return out


def init_database(url: str, var_dir: Path) -> None:
    """``openmyna init``: the schema, migrated (nothing done if it already is)."""
    subprocess.run([str(OPENMYNA), "init"], env=env_for(url, var_dir), check=True, stdout=sys.stderr, cwd=var_dir)


def _tree_pss_mib(pid: int) -> float:
    """The proportional resident memory (PSS: pages shared between them counted once) of process ``pid`` and
    all its descendants together (Linux ``/proc``), in MiB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/smaps_rollup").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Pss:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue  # the process ended meanwhile
    return total / 1024


@dataclasses.dataclass
class ImportRun:
    """One ``openmyna corporate import`` in a child process."""

    seconds: float
    peak_mib: float  # the larger of the child's own peak RSS and the peak PSS of it and its descendants
    rows_seconds: float | None  # until the CLI said it builds the indexes (a bulk load), else None
    cpu_seconds: float  # user + system time of the child and of the children it waited for (not the server's)


def run_import(url: str, var_dir: Path, files: list[Path]) -> ImportRun:
    """``openmyna corporate import FILES`` in a child process, timed, its memory sampled every 50 ms.

    PSS, not RSS, is summed over the child and its descendants: a large file is parsed in a forked second
    process, which shares most of its pages with the first (their RSS would count those twice)."""
    init_database(url, var_dir)
    started = time.perf_counter()
    process = subprocess.Popen([str(OPENMYNA), "corporate", "import", *map(str, files)], env=env_for(url, var_dir),
                               stdout=sys.stderr, stderr=subprocess.PIPE, cwd=var_dir, text=True)  # fmt: skip
    tree_peak = [0.0]
    rows_done: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            tree_peak[0] = max(tree_peak[0], _tree_pss_mib(process.pid))

    def relay() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if "building the indexes" in line and not rows_done:
                rows_done.append(time.perf_counter() - started)
            sys.stderr.write(line)

    threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=relay, daemon=True)]
    for thread in threads:
        thread.start()
    _pid, status, usage = os.wait4(process.pid, 0)  # this child's own resource usage
    seconds = time.perf_counter() - started
    done.set()
    for thread in threads:
        thread.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"the import exited with {process.returncode}")
    return ImportRun(seconds, max(usage.ru_maxrss / 1024, tree_peak[0]), rows_done[0] if rows_done else None,
                     usage.ru_utime + usage.ru_stime)  # fmt: skip


@contextlib.contextmanager
def loaded_database(backend: str, rows: int) -> Iterator[tuple[str, Path]]:
    """A database holding the synthetic full file, diff and activity records for ``rows`` corporations."""
    data = dataset(rows)
    files = [data / "nta_full.csv", *sorted(data.glob("nta_diff_*.csv")), data / "activity.csv"]
    if backend == "sqlite":
        path = CACHE / f"corporate-sqlite-{rows}.db"
        var_dir = CACHE / f"corporate-sqlite-{rows}-var"
        var_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
        if not path.exists():
            log(f"loading {rows:,} corporations into {path}")
            run_import(url, var_dir, files)
        yield url, var_dir
        return
    if os.environ.get("OPENMYNA_BENCH_KEEP_POSTGRESQL") == "1":
        yield _kept_postgresql(rows, files)
        return
    with fresh_database("postgresql", "corporate") as (url, var_dir):
        log(f"loading {rows:,} corporations into PostgreSQL")
        run_import(url, var_dir, files)
        yield url, var_dir


def _kept_postgresql(rows: int, files: list[Path]) -> tuple[str, Path]:
    """``openmyna_bench_corporate_<rows>``, loaded unless every file of the data set is already imported."""
    from sqlalchemy import text

    from openmyna.core.db import make_engine

    name = f"{PG_PREFIX}corporate_{rows}"
    url = kept_postgresql_database(name)
    var_dir = CACHE / f"corporate-postgresql-{rows}-var"
    var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    with engine.connect() as connection:
        imported = 0
        if connection.execute(text("SELECT to_regclass('corporate_imported_files') IS NOT NULL")).scalar():
            imported = connection.execute(text("SELECT count(*) FROM corporate_imported_files")).scalar_one()
    engine.dispose()
    if imported == len(files):
        log(f"reusing the loaded PostgreSQL database {name}")
    else:
        log(f"loading {rows:,} corporations into PostgreSQL database {name} (kept)")
        run_import(url, var_dir, files)
    return url, var_dir


def server(url: str, var_dir: Path) -> contextlib.AbstractContextManager[str]:
    """``openmyna serve`` (one worker) with the rate limit out of the way, until the block ends."""
    return serve(url, var_dir, free_port(), extra_env={"OPENMYNA_CORPORATE_RATE_LIMIT_PER_SECOND": "1000000"})


def token(url: str, var_dir: Path) -> str:
    result = subprocess.run([str(OPENMYNA), "corporate", "token", "bench"], env=env_for(url, var_dir), check=True,
                            capture_output=True, text=True, cwd=var_dir)  # fmt: skip
    return result.stdout.strip()
