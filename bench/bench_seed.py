"""Seeding against its floor: ``seed_world`` loading N residents into a fresh, migrated database.

The floor, in the same run: every row the seed wrote, read back beforehand (untimed) and written into the same
tables of another fresh, migrated database by a plain ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) in one
transaction (``_common.floor_load``). Headline: floor seconds / seed seconds. Target (issue 17): a ratio of at
least 0.7 on both databases; peak memory of the seeder under 1 GiB on SQLite. The seed runs in a child process
(this script re-run with ``--child``) so that ``RUSAGE_CHILDREN``'s ``ru_maxrss`` is the seeder's own peak;
only ``seed_world`` is timed, not the migration. The default 1,000,000 residents take a few minutes; ``--residents
100000`` is a quick run.

    .venv/bin/python bench/bench_seed.py [--database sqlite|postgresql] [--residents 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    add_database_argument,
    code_version,
    database_bytes,
    emit,
    floor_load,
    fresh_database,
    log,
    machine,
    settings_for,
)

WORKLOAD = "seed"
TARGET_RATIO = 0.7  # floor seconds / seed seconds, both backends
TARGET_RSS_MIB = 1024  # peak memory of the seeding process, SQLite (reported on PostgreSQL as well)
SEED = 42


def run_child(url: str, var_dir: Path, residents: int) -> dict[str, Any]:
    """Migrate, then seed and time ``seed_world``; count the rows afterwards (untimed)."""
    from sqlalchemy import func, select

    from openmyna.app import migrate
    from openmyna.app.seed import seed_world
    from openmyna.core.context import open_context
    from openmyna.numbers.models import IssuedNumber
    from openmyna.registry.models import Household, Resident, ResidentVersion

    context = open_context(settings_for(url, var_dir))
    started = time.perf_counter()
    migrate.upgrade(context.engine)
    migrate_s = time.perf_counter() - started
    done = 0
    step = max(residents // 10, 1)

    def progress(n: int) -> None:
        nonlocal done
        before, done = done, done + n
        if done // step != before // step:
            elapsed = time.perf_counter() - started
            log(f"seeded {done:,}/{residents:,} residents ({done / elapsed:,.0f}/s so far)")

    log(f"seeding {residents:,} residents")
    started = time.perf_counter()
    report = seed_world(context, residents=residents, seed=SEED, progress=progress)
    seed_s = time.perf_counter() - started
    if not report.created:
        raise RuntimeError("seed_world found a seeded database; the benchmark needs an empty one")
    with context.session_factory() as session:
        rows = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Household, Resident, ResidentVersion, IssuedNumber)
        }
    context.engine.dispose()
    return {
        "seed_s": seed_s,
        "migrate_s": migrate_s,
        "rows": rows,
        "self_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "db_bytes": database_bytes(url),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument(
        "--residents",
        type=int,
        default=1_000_000,
        help="residents to seed (default 1,000,000: minutes; 100,000 for a quick run)",
    )
    parser.add_argument("--child", nargs=2, metavar=("URL", "VAR_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run_child(args.child[0], Path(args.child[1]), args.residents)
        sys.stdout.write(json.dumps(result) + "\n")
        return

    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        command = [sys.executable, __file__, "--residents", str(args.residents), "--child", url, str(var_dir)]
        completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the seeder is our only child
        log("floor: the same rows by a plain executemany / COPY into a second fresh database")
        floor = floor_load(url, args.database, WORKLOAD)
    peak_kib = usage.ru_maxrss
    child = json.loads(completed.stdout.strip().splitlines()[-1])

    rate = args.residents / child["seed_s"]
    ratio = floor["seconds"] / child["seed_s"]
    peak_mib = peak_kib / 1024
    rows_ok = child["rows"]["registry_residents"] == args.residents
    checks = {"ratio": ratio >= TARGET_RATIO, "peak_rss": peak_mib < TARGET_RSS_MIB, "rows": rows_ok}
    ok = checks["ratio"] and rows_ok and (checks["peak_rss"] if args.database == "sqlite" else True)
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {"residents": args.residents, "seed": SEED},
            "figures": {
                "headline_ratio_to_floor": round(ratio, 3),
                "seconds": round(child["seed_s"], 3),
                "residents_per_s": round(rate, 1),
                "peak_rss_kib": peak_kib,
                "peak_rss_mib": round(peak_mib, 1),
                "seeder_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # whole child, migration included
                "migrate_s": round(child["migrate_s"], 3),
                "rows": child["rows"],
                "floor_seconds": round(floor["seconds"], 3),
                "floor_rows": sum(floor["rows"].values()),
                "floor_tables": len(floor["rows"]),
                "db_mib": round(child["db_bytes"] / 2**20, 1) if child["db_bytes"] is not None else None,
            },
            "target": {
                "ratio_min": TARGET_RATIO,
                "peak_rss_mib_max": TARGET_RSS_MIB,
                "peak_rss_applies_to": ["sqlite"],
            },
            "checks": checks,
            "ok": ok,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
