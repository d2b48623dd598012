"""Detail by corporate number with every activity block (``GET /hojin/v2/hojin/{corporate_number}``).

Target (issue 5): median under 5 ms over the national-size registry. Numbers are corporations that have
activity records, drawn at random; one keep-alive client against ``openmyna serve``.

    .venv/bin/python bench/bench_corporate_detail.py [--database sqlite|postgresql] [--rows 1000000] [--requests 500]
"""

from __future__ import annotations

import argparse
import random
import time

import httpx
from sqlalchemy import text

from _common import add_database_argument, code_version, emit, latency_summary, log, machine
from _corporate import loaded_database, server, token

TARGET_MEDIAN_MS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_argument(parser)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    from openmyna.core.db import make_engine

    with loaded_database(args.database, args.rows) as (url, var_dir):
        engine = make_engine(url)
        with engine.connect() as connection:
            numbers = [str(n) for n in connection.execute(
                text("SELECT DISTINCT number FROM corporate_activities WHERE linked = :t"), {"t": True}
            ).scalars()]  # fmt: skip
        engine.dispose()
        picks = random.Random(42).choices(numbers, k=args.requests)
        api_token = token(url, var_dir)
        with server(url, var_dir) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
            headers = {"X-hojinInfo-api-token": api_token}
            for number in picks[:50]:
                client.get(f"/hojin/v2/hojin/{number}", headers=headers).raise_for_status()
            samples, blocks = [], 0
            for number in picks:
                started = time.perf_counter()
                response = client.get(f"/hojin/v2/hojin/{number}", headers=headers)
                samples.append(time.perf_counter() - started)
                response.raise_for_status()
                item = response.json()["hojin-infos"][0]
                blocks += sum(len(item[k]) for k in ("subsidy", "procurement", "certification", "commendation"))
    summary = latency_summary(samples)
    log(f"detail: {summary}, {blocks / len(picks):.2f} activity records per answer")
    emit({
        "workload": "corporate_detail",
        "database": args.database,
        "rows": args.rows,
        "requests": len(picks),
        **summary,
        "activity_records_per_answer": round(blocks / len(picks), 2),
        "target": {"median_ms": TARGET_MEDIAN_MS},
        "ok": summary["median_ms"] < TARGET_MEDIAN_MS,
        "machine": machine(),
        "code": code_version(),
    })  # fmt: skip


if __name__ == "__main__":
    main()
