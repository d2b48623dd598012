"""Import of the synthetic NTA full file through ``openmyna corporate import``, on SQLite or PostgreSQL.

Target (issue 5): at least 100,000 rows/s for the 5,000,000-row file, peak memory under 500 MiB. The import
runs as a child process (the real CLI: it counts the lines for the progress bar, then streams the file in
one transaction), so its peak RSS is its own. The data set is written once and cached.

    .venv/bin/python bench/bench_corporate_import.py [--database sqlite|postgresql] [--rows 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics

from _common import add_database_argument, code_version, database_bytes, emit, fresh_database, log, machine
from _corporate import dataset, run_import

TARGET_ROWS_PER_S = 100_000
TARGET_PEAK_MIB = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_argument(parser)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    full = dataset(args.rows) / "nta_full.csv"
    rates, peaks, sizes = [], [], []
    for run in range(args.runs):
        with fresh_database(args.database, "corpimport") as (url, var_dir):
            seconds, peak = run_import(url, var_dir, [full])
            rates.append(args.rows / seconds)
            peaks.append(peak)
            sizes.append(database_bytes(url))
            log(f"run {run + 1}: {args.rows:,} rows in {seconds:.1f} s = {rates[-1]:,.0f} rows/s, peak {peak:.0f} MiB")
    median = statistics.median(rates)
    emit({
        "workload": "corporate_import",
        "database": args.database,
        "rows": args.rows,
        "rows_per_s_median": round(median),
        "rows_per_s_runs": [round(r) for r in rates],
        "peak_rss_mib_max": round(max(peaks)),
        "database_mib": round((sizes[-1] or 0) / 2**20),
        "target": {"rows_per_s": TARGET_ROWS_PER_S, "peak_rss_mib": TARGET_PEAK_MIB, "rows": 5_000_000},
        "ok": median >= TARGET_ROWS_PER_S and max(peaks) < TARGET_PEAK_MIB,
        "machine": machine(),
        "code": code_version(),
    })  # fmt: skip


if __name__ == "__main__":
    main()
