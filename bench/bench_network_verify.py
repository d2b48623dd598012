"""``openmyna network verify``'s work over a large log: recompute every leaf and the signed root.

The log is built once and kept (see bench/_network.py); the timed part is ``openmyna.network.verify.verify`` on
it. The floor, in the same run: every row of the tables verify checks (records, tree nodes, person chains, map
nodes) read by one plain stream (``_common.floor_read``). Headline: floor seconds / verify seconds. Target
(issue 17): at least 0.5 (verifying costs at most twice reading what it verifies); issue 7's 500,000
records/s over 10,000,000 records is reported beside.

    .venv/bin/python bench/bench_network_verify.py [--database postgresql|sqlite] [--records 10000000]
"""

from __future__ import annotations

import argparse
import time

from _common import (
    DATA_KEY_BYTES,
    add_database_argument,
    code_version,
    emit,
    floor_read,
    fresh_database,
    log,
    machine,
)
from _network import cached_log, report_progress

WORKLOAD = "network_verify"
TARGET_RATIO = 0.5  # floor seconds / verify seconds
TARGET_RATE = 500_000
VERIFIED_TABLES = ("network_exchange_records", "network_tree_nodes", "network_person_chains", "network_map_nodes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument(
        "--records",
        type=int,
        default=10_000_000,
        help="records in the log (default 10,000,000: built once, then kept; 100,000 for a quick run)",
    )
    args = parser.parse_args()
    from sqlalchemy.orm import Session

    from openmyna.core.crypto import KeyRing
    from openmyna.core.db import make_engine
    from openmyna.network.verify import verify

    with fresh_database("sqlite", WORKLOAD) as (_scratch, var_dir):
        url = cached_log(args.database, args.records, var_dir)
        engine = make_engine(url)
        with Session(engine) as session:
            started = time.perf_counter()
            report = verify(session, keys=KeyRing(DATA_KEY_BYTES), progress=report_progress("verified"))
            elapsed = time.perf_counter() - started
        engine.dispose()
        floor = floor_read(url, VERIFIED_TABLES)
    rate = report.records / elapsed if elapsed else 0.0
    ratio = floor["seconds"] / elapsed
    log(f"verify: {report}")
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {"records": args.records},
            "headline_ratio_to_floor": round(ratio, 3),
            "verified_ok": report.ok,
            "records_verified": report.records,
            "seconds": round(elapsed, 2),
            "records_per_s": round(rate),
            "floor_seconds": round(floor["seconds"], 3),
            "floor_rows": floor["rows"],
            "target": {"ratio_min": TARGET_RATIO, "records_per_s": TARGET_RATE},
            "within_absolute_target": rate >= TARGET_RATE,
            "ok": report.ok and ratio >= TARGET_RATIO,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
