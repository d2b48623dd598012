"""Import of the synthetic NTA full file through ``openmyna corporate import``, against its hand-run floor.

Each run imports the file into an empty registry (the real CLI in a child process, so its peak RSS is its
own), then runs the floor of the same work on the same rows in the same run: the rows as the registry
stores them (read back from the import, in the file's order, the 2-character tokens written out), loaded and
indexed by the database's own tool with no Python in between.

- SQLite: one ``sqlite3`` CLI process, one transaction, the import's pragmas: ``.import`` of the rows into the
  same table, the same two B-tree indexes, the FTS5 trigram ``rebuild`` and the 2-character FTS5 index
  filled in rowid order from the pre-tokenised rows (``.import`` into a temporary table first: the CLI
  cannot give FTS5 the rowids itself, and a view with an insert trigger took 3× longer).
- PostgreSQL: ``psql``'s ``\\copy … (FREEZE)`` into a table of the same shape (``LIKE``, with the finer
  statistics of migration 0301), then the primary key, the two B-trees and both GIN indexes built by hand in
  two ``psql`` sessions at once (``maintenance_work_mem`` as in the import), then ``ANALYZE``.

Each run measures the floor before the import (once its input exists) and after it, and divides by their
mean: the machine is shared, and its load changes within a minute. ``machine_busy_cores`` says how many
cores the whole machine kept busy during each part (every process counted), ``cpu_s_client`` the CPU time
of the import's processes, or of the ``sqlite3``/``psql`` ones (the PostgreSQL server's is not in it), and
``rows_s`` how long the import took before it began to build the indexes. Headline:
``headline_ratio_to_floor`` = median of each run's import rate / floor rate. Target (issue 17): at least
0.8 on both databases, the import's peak memory under 500 MiB (``peak_mib``: the larger of the CLI
process's own peak RSS and the peak PSS of it and its parsing process together).

    .venv/bin/python bench/bench_corporate_import.py [--database sqlite|postgresql] [--rows 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import (
    add_database_argument,
    code_version,
    cpu_busy_cores_since,
    cpu_mark,
    database_bytes,
    emit,
    fresh_database,
    log,
    machine,
)
from _corporate import dataset, init_database, run_import

TARGET_RATIO = 0.8
TARGET_PEAK_MIB = 500
# The stored columns, in the table's order (the bigrams tsvector on PostgreSQL only).
_PG_INDEXES = (
    # two sessions at once, as the import builds them
    ("CREATE INDEX floor_trgm ON floor_corporations USING gin (search_text gin_trgm_ops);",),
    (
        "ALTER TABLE floor_corporations ADD PRIMARY KEY (number);",
        "CREATE INDEX floor_bigrams ON floor_corporations USING gin (bigrams);",
        "CREATE INDEX floor_update_date ON floor_corporations (update_date);",
        "CREATE INDEX floor_prefecture_city ON floor_corporations (prefecture_code, city_code);",
    ),
)


def _columns() -> list[str]:
    from openmyna.corporate.writer import CURRENT_COLUMNS

    return list(CURRENT_COLUMNS)


def _psql(url: str) -> list[str]:
    from openmyna.core.db import normalise_url

    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", normalise_url(url).replace("+psycopg", "", 1)]


def _run(command: list[str], script: str) -> float:
    """Run a database CLI on ``script`` (stdin); its wall-clock seconds."""
    started = time.perf_counter()
    subprocess.run(command, input=script, text=True, check=True, stdout=sys.stderr)
    return time.perf_counter() - started


# --- SQLite ---------------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _sqlite_inputs(url: str, out: Path) -> None:
    """The stored rows in file order and their 2-character tokens in rowid order, as CSV, and the imported
    database's DDL of the registry and its indexes (untimed)."""
    from openmyna.corporate.text import bigram_tokens_many

    out.mkdir(parents=True, exist_ok=True)
    (out / "schema.json").write_text(json.dumps(_sqlite_schema(url)))
    source = sqlite3.connect(_sqlite_path(url))
    with (out / "rows.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        cursor = source.execute(f"SELECT {', '.join(_columns())} FROM corporate_corporations ORDER BY sequence_number")
        while rows := cursor.fetchmany(10_000):
            writer.writerows(rows)
    with (out / "tokens.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        cursor = source.execute("SELECT number, search_text FROM corporate_corporations ORDER BY number")
        while rows := cursor.fetchmany(10_000):
            numbers, texts = zip(*rows, strict=True)
            writer.writerows(zip(numbers, bigram_tokens_many(list(texts)), strict=True))
    source.close()


def _sqlite_schema(url: str) -> tuple[list[str], list[str]]:
    """The imported database's DDL: (tables, indexes) of the registry and its two FTS5 indexes."""
    source = sqlite3.connect(_sqlite_path(url))
    rows = source.execute(
        "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND (tbl_name = 'corporate_corporations' "
        "OR name IN ('corporate_search_trigram', 'corporate_search_bigram'))"
    ).fetchall()
    source.close()
    return [sql for kind, sql in rows if kind == "table"], [sql for kind, sql in rows if kind == "index"]


def sqlite_floor(inputs: Path, var_dir: Path) -> dict[str, float]:
    """The ``sqlite3`` CLI doing the import's work on the same rows; seconds by step and in all."""
    from openmyna.corporate.writer import IMPORT_CACHE_KIB, INDEX_BUILD_CACHE_KIB

    tables, indexes = json.loads((inputs / "schema.json").read_text())
    database = var_dir / "floor.db"
    database.unlink(missing_ok=True)
    setup = ";\n".join(tables) + ";\n"
    subprocess.run(["sqlite3", str(database)], input=setup, text=True, check=True)
    mark = "SELECT 'mark', (julianday('now') - 2440587.5) * 86400.0;\n"
    script = (
        ".bail on\nPRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
        f"PRAGMA cache_size=-{IMPORT_CACHE_KIB};\n.mode list\nBEGIN;\n{mark}"
        f".import --csv {inputs / 'rows.csv'} corporate_corporations\n{mark}"
        f"PRAGMA cache_size=-{INDEX_BUILD_CACHE_KIB};\n" + ";\n".join(indexes) + f";\n{mark}"
        "INSERT INTO corporate_search_trigram (corporate_search_trigram) VALUES ('rebuild');\n" + mark
        + "CREATE TEMP TABLE bigram_rows (number INTEGER PRIMARY KEY, tokens TEXT);\n"
        f".import --csv {inputs / 'tokens.csv'} bigram_rows\n"
        "INSERT INTO corporate_search_bigram (rowid, tokens) SELECT number, tokens FROM bigram_rows ORDER BY number;\n"
        f"{mark}COMMIT;\n{mark}"
    )  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(["sqlite3", str(database)], input=script, text=True, check=True, capture_output=True)
    total = time.perf_counter() - started
    marks = [float(line.split("|")[1]) for line in result.stdout.splitlines() if line.startswith("mark|")]
    steps = ("rows", "btree_indexes", "trigram_rebuild", "bigram_index", "commit")
    seconds = {f"{step}_s": round(b - a, 2) for step, a, b in zip(steps, marks, marks[1:], strict=False)}
    count = subprocess.run(["sqlite3", str(database), "SELECT count(*) FROM corporate_corporations"],
                           capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    database.unlink()
    Path(f"{database}-wal").unlink(missing_ok=True)
    Path(f"{database}-shm").unlink(missing_ok=True)
    return {**seconds, "total_s": round(total, 2), "rows": int(count)}


# --- PostgreSQL -----------------------------------------------------------------------------------------


def _pg_inputs(url: str, out: Path) -> None:
    """The stored rows in file order with their 2-character tokens, as CSV (untimed)."""
    out.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(_columns())
    query = (f"SELECT {columns}, array_to_string(tsvector_to_array(bigrams), ' ') "
             "FROM corporate_corporations ORDER BY sequence_number")  # fmt: skip
    _run(_psql(url), f"\\copy ({query}) TO '{out / 'rows.csv'}' WITH (FORMAT csv)\n")


def pg_floor(url: str, inputs: Path) -> dict[str, float]:
    """``psql`` doing the import's work on the same rows; seconds by step and in all."""
    from openmyna.corporate.writer import PG_MAINTENANCE_WORK_MEM

    psql = _psql(url)
    columns = ", ".join([*_columns(), "bigrams"])
    started = time.perf_counter()
    copy_s = _run(psql, (
        "BEGIN;\nCREATE TABLE floor_corporations (LIKE corporate_corporations INCLUDING DEFAULTS);\n"
        "ALTER TABLE floor_corporations ALTER COLUMN search_text SET STATISTICS 1000;\n"
        f"\\copy floor_corporations ({columns}) FROM '{inputs / 'rows.csv'}' WITH (FORMAT csv, FREEZE)\nCOMMIT;\n"
    ))  # fmt: skip
    index_started = time.perf_counter()
    sessions = [
        subprocess.Popen(psql, stdin=subprocess.PIPE, stdout=sys.stderr, text=True)
        for _ in _PG_INDEXES
    ]  # fmt: skip
    for session, statements in zip(sessions, _PG_INDEXES, strict=True):
        assert session.stdin is not None
        session.stdin.write(f"SET maintenance_work_mem = '{PG_MAINTENANCE_WORK_MEM}';\n" + "\n".join(statements))
        session.stdin.close()
    if any(session.wait() != 0 for session in sessions):
        raise RuntimeError("a floor index build failed")
    index_s = time.perf_counter() - index_started
    analyze_s = _run(psql, "ANALYZE floor_corporations;\n")
    total = time.perf_counter() - started
    count = subprocess.run([*psql, "-Atc", "SELECT count(*) FROM floor_corporations"], capture_output=True,
                           text=True, check=True).stdout.strip()  # fmt: skip
    _run(psql, "DROP TABLE floor_corporations;\n")
    return {"copy_s": round(copy_s, 2), "indexes_s": round(index_s, 2), "analyze_s": round(analyze_s, 2),
            "total_s": round(total, 2), "rows": int(count)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_argument(parser)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for tool in ("sqlite3",) if args.database == "sqlite" else ("psql",):
        if not shutil.which(tool):
            sys.exit(f"the floor needs the {tool} command (make bench installs sqlite3)")
    data = dataset(args.rows)
    full = data / "nta_full.csv"
    inputs = data / f"floor-{args.database}"
    runs = []
    for run in range(args.runs):
        with fresh_database(args.database, "corpimport") as (url, var_dir):

            def floor() -> dict[str, float]:
                log("floor: the same rows loaded and indexed by hand")
                mark, before = cpu_mark(), resource.getrusage(resource.RUSAGE_CHILDREN)
                steps = sqlite_floor(inputs, var_dir) if args.database == "sqlite" else pg_floor(url, inputs)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if steps["rows"] != args.rows:
                    raise RuntimeError(f"the floor loaded {steps['rows']:,} rows, not {args.rows:,}")
                client = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                return {**steps, "cpu_s_client": round(client, 2), "machine_busy_cores": cpu_busy_cores_since(mark)}

            init_database(url, var_dir)
            floors = [floor()] if (inputs / "rows.csv").exists() else []
            load = os.getloadavg()[0]
            mark = cpu_mark()
            done = run_import(url, var_dir, [full])
            seconds, peak = done.seconds, done.peak_mib
            busy = cpu_busy_cores_since(mark)
            size = database_bytes(url)
            if not (inputs / "rows.csv").exists():
                log("writing the floor's input (the stored rows, read back from the import)")
                (_sqlite_inputs if args.database == "sqlite" else _pg_inputs)(url, inputs)
            floors.append(floor())
        floor_s = statistics.mean(f["total_s"] for f in floors)
        rate, floor_rate = args.rows / seconds, args.rows / floor_s
        runs.append({"rows_per_s": round(rate), "seconds": round(seconds, 2), "peak_mib": round(peak),
                     "rows_s": done.rows_seconds and round(done.rows_seconds, 2),
                     "cpu_s_client": round(done.cpu_seconds, 2),
                     "machine_busy_cores": busy, "floor_rows_per_s": round(floor_rate), "floors": floors,
                     "ratio": round(rate / floor_rate, 3), "database_mib": round((size or 0) / 2**20),
                     "loadavg_1m_before": round(load, 2),
                     "loadavg_1m_after": round(os.getloadavg()[0], 2)})  # fmt: skip
        log(f"run {run + 1}: import {rate:,.0f} rows/s ({seconds:.1f} s, peak {peak:.0f} MiB, machine busy {busy} "
            f"cores), floor {floor_rate:,.0f} rows/s (mean of {[f['total_s'] for f in floors]} s: {floors}), "
            f"ratio {rate / floor_rate:.3f}")  # fmt: skip
    ratio = statistics.median(r["ratio"] for r in runs)
    peak = max(r["peak_mib"] for r in runs)
    emit({
        "workload": "corporate_import",
        "database": args.database,
        "rows": args.rows,
        "headline_ratio_to_floor": ratio,
        "rows_per_s_median": round(statistics.median(r["rows_per_s"] for r in runs)),
        "floor_rows_per_s_median": round(statistics.median(r["floor_rows_per_s"] for r in runs)),
        "peak_mib_max": peak,
        "runs": runs,
        "target": {"ratio_to_floor": TARGET_RATIO, "peak_rss_mib": TARGET_PEAK_MIB},
        "ok": ratio >= TARGET_RATIO and peak < TARGET_PEAK_MIB,
        "machine": machine(),
        "code": code_version(),
    })  # fmt: skip


if __name__ == "__main__":
    main()
