"""Detail by corporate number with every activity block (``GET /hojin/v2/hojin/{corporate_number}``).

Numbers are corporations that have activity records, drawn at random; one keep-alive client against
``openmyna serve``. The reference, in the same run with the same client and token: the same corporations' basic
record alone (``GET /hojin/v2/hojin/{number}/corporation``: the same authentication, one primary-key read), as
many requests. Headline: the reference's median / the detail's median. Target (issue 17): at least 0.5 (the
activity blocks cost no more than the record itself); issue 5's median under 5 ms is reported beside.

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
from _serve import timed_gets

TARGET_RATIO = 0.5  # median of the basic record / median of the detail with every block
TARGET_MEDIAN_MS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_argument(parser)
    parser.add_argument("--rows", type=int, default=1_000_000, help="registry size (default 1,000,000; 100,000 quick)")
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
            paths = [f"/hojin/v2/hojin/{number}/corporation" for number in picks]
            reference = latency_summary(timed_gets(client, paths, headers=headers, warmup=50))
    summary = latency_summary(samples)
    ratio = reference["median_ms"] / summary["median_ms"]
    log(f"detail: {summary}, {blocks / len(picks):.2f} activity records per answer")
    emit({
        "workload": "corporate_detail",
        "database": args.database,
        "rows": args.rows,
        "requests": len(picks),
        "headline_ratio_to_basic_record": round(ratio, 3),
        **summary,
        "basic_record": reference,
        "activity_records_per_answer": round(blocks / len(picks), 2),
        "target": {"ratio_min": TARGET_RATIO, "median_ms": TARGET_MEDIAN_MS},
        "within_absolute_target": summary["median_ms"] < TARGET_MEDIAN_MS,
        "ok": ratio >= TARGET_RATIO,
        "machine": machine(),
        "code": code_version(),
    })  # fmt: skip


if __name__ == "__main__":
    main()
