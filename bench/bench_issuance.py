"""Bulk My Number issuance: ``issue_my_numbers`` on a migrated, empty database, in one transaction.

``--count`` numbers (default 1,000,000) are issued in calls of ``--batch`` (default 100,000); the rate is the
total over the timed calls, the commit timed separately; uniqueness and validity (``stdnum.jp.in_.is_valid``)
are checked afterwards, untimed. The floor, in the same run: the rows the issuance wrote, read back beforehand
(untimed) and written into the same table of a fresh, migrated database by a plain ``executemany`` (SQLite) or
``COPY`` (PostgreSQL) in one transaction, committed (``_common.floor_load``). Headline: floor seconds /
(issuance + commit seconds). Target (issue 17): at least 0.7 on both databases.

    .venv/bin/python bench/bench_issuance.py [--database sqlite|postgresql] [--count 1000000] [--batch 100000]
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import func, select
from stdnum.jp import in_

from _common import (
    DATA_KEY_BYTES,
    add_database_argument,
    code_version,
    cpu_busy_cores_since,
    cpu_mark,
    emit,
    floor_load,
    fresh_database,
    log,
    machine,
    stdout_to_stderr,
)
from openmyna.app import migrate
from openmyna.core.crypto import KeyRing
from openmyna.core.db import make_engine
from openmyna.numbers.models import IssuedNumber
from openmyna.numbers.service import issue_my_numbers

WORKLOAD = "issuance"
TARGET_RATIO = 0.7  # floor seconds / (issuance + commit) seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument(
        "--count",
        type=int,
        default=1_000_000,
        help="numbers to issue in all (default 1,000,000; 100,000 for a quick run)",
    )
    parser.add_argument(
        "--batch", type=int, default=100_000, help="numbers per issue_my_numbers call (default 100,000)"
    )
    args = parser.parse_args()

    with stdout_to_stderr(), fresh_database(args.database, WORKLOAD) as (url, _var_dir):
        engine = make_engine(url)
        migrate.upgrade(engine)
        keys = KeyRing(DATA_KEY_BYTES)
        issued: list[str] = []
        call_seconds: list[float] = []
        call_sizes: list[int] = []
        with engine.connect() as connection:
            transaction = connection.begin()
            mark = cpu_mark()
            while len(issued) < args.count:
                wanted = min(args.batch, args.count - len(issued))
                started = time.perf_counter()
                numbers = issue_my_numbers(connection, keys=keys, count=wanted)
                call_seconds.append(time.perf_counter() - started)
                call_sizes.append(wanted)
                issued.extend(numbers)
                log(f"issued {len(issued):,}/{args.count:,} ({wanted / call_seconds[-1]:,.0f}/s in this call)")
            busy = cpu_busy_cores_since(mark)
            started = time.perf_counter()
            transaction.commit()
            commit_s = time.perf_counter() - started
            stored = connection.scalar(select(func.count()).select_from(IssuedNumber))
        engine.dispose()
        floor = floor_load(url, args.database, WORKLOAD, tables=[IssuedNumber.__tablename__])

    issue_s = sum(call_seconds)
    rate = args.count / issue_s
    ratio = floor["seconds"] / (issue_s + commit_s)
    unique = len(set(issued))
    invalid = sum(not in_.is_valid(n) for n in issued)
    checks = {
        "ratio": ratio >= TARGET_RATIO,
        "count_unique_valid": len(issued) == args.count == unique and invalid == 0 and stored == args.count,
    }
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {"count": args.count, "batch": args.batch},
            "figures": {
                "headline_ratio_to_floor": round(ratio, 3),
                "issue_seconds": round(issue_s, 3),
                "numbers_per_s": round(rate, 1),
                "commit_seconds": round(commit_s, 3),
                "numbers_per_s_incl_commit": round(args.count / (issue_s + commit_s), 1),
                "per_call_numbers_per_s": [round(n / s, 1) for n, s in zip(call_sizes, call_seconds, strict=True)],
                "issued": len(issued),
                "unique": unique,
                "invalid": invalid,
                "rows_stored": stored,
                "floor_seconds": round(floor["seconds"], 3),
                "floor_rows": floor["rows"].get(IssuedNumber.__tablename__),
                "cpu_busy_cores_while_timed": busy,  # whole machine; this benchmark alone uses about 1-1.5
            },
            "target": {"ratio_min": TARGET_RATIO},
            "checks": checks,
            "ok": all(checks.values()),
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
