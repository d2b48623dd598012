"""``openmyna network verify``'s work over a large log: recompute every leaf and the signed root.

Target (issue): at least 500,000 records/s over 10,000,000 records. The log is built once and kept
(see bench/_network.py); the timed part is ``openmyna.network.verify.verify`` on it.

    .venv/bin/python bench/bench_network_verify.py [--database postgresql|sqlite] [--records 10000000]
"""

from __future__ import annotations

import argparse
import time

from _common import DATA_KEY_BYTES, add_database_argument, code_version, emit, fresh_database, log, machine
from _network import cached_log, report_progress

WORKLOAD = "network_verify"
TARGET_RATE = 500_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument("--records", type=int, default=10_000_000, help="records in the log (default 10,000,000)")
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
    rate = report.records / elapsed if elapsed else 0.0
    log(f"verify: {report}")
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {"records": args.records},
            "verified_ok": report.ok,
            "records_verified": report.records,
            "seconds": round(elapsed, 2),
            "records_per_s": round(rate),
            "target": {"records_per_s": TARGET_RATE},
            "ok": report.ok and rate >= TARGET_RATE,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
