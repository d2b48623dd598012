"""One resident's history page over a large log: the 20 newest, inclusion proofs, the page's completeness proof.

Target (issue): with 10,000,000 records in the store, median under 10 ms and p99 under 50 ms on
PostgreSQL; SQLite is reported as measured. The log is built once and kept (see bench/_network.py);
the server runs as a subprocess and one keep-alive client reads the history page sequentially. The reference,
in the same run with the same client and token: ``GET /api/orgs`` (the same bearer-token authentication and one
read of a small table), as many requests. Headline: the reference's median / the history page's median.
Target (issue 17): at least 0.2 (a page of 20 exchanges with 40 inclusion proofs and its completeness proof
costs at most five trivial authenticated reads); issue 10's median under 10 ms and p99 under 50 ms on
10,000,000 records (PostgreSQL) are reported beside.

    .venv/bin/python bench/bench_network_history.py [--database postgresql|sqlite] [--records 10000000]
"""

from __future__ import annotations

import argparse
import time

import httpx

from _common import (
    DATA_KEY_BYTES,
    add_database_argument,
    code_version,
    emit,
    fresh_database,
    latency_summary,
    log,
    machine,
)
from _network import TARGET_CITIZEN, TARGET_EXCHANGES, cached_log
from _serve import free_port, server, timed_gets

WORKLOAD = "network_history"
TARGET_RATIO = 0.2  # median of GET /api/orgs / median of the history page
TARGET_MEDIAN_MS, TARGET_P99_MS = 10.0, 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument(
        "--records",
        type=int,
        default=10_000_000,
        help="records in the log (default 10,000,000: built once, then kept; 100,000 for a quick run)",
    )
    parser.add_argument("--requests", type=int, default=500, help="timed history pages (default 500)")
    args = parser.parse_args()
    from openmyna.core.crypto import KeyRing
    from openmyna.network.person_check import check_head, check_page
    from openmyna.orgs.service import issue_access_token

    with fresh_database("sqlite", WORKLOAD) as (_scratch, var_dir):
        url = cached_log(args.database, args.records, var_dir)
        token = issue_access_token(
            KeyRing(DATA_KEY_BYTES), org_code=TARGET_CITIZEN, scopes={"self"}, issuer="bench", ttl_seconds=3600
        )["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with (
            server(
                url, var_dir, free_port(), access_log=False, extra_env={"OPENMYNA_NETWORK_PUBLISH_SECONDS": "0"}
            ) as base_url,
            httpx.Client() as client,
        ):
            first = client.get(f"{base_url}/api/network/history", headers=headers).json()
            assert first["total"] == TARGET_EXCHANGES and len(first["items"]) == 20, first.get("total")
            assert all(r["status"] == "included" for item in first["items"] for r in item["records"])
            check_head(first["tree_head"], KeyRing(DATA_KEY_BYTES).log_signing_key.public_key(), None)
            check_page(first, TARGET_CITIZEN)  # the completeness proof served is a valid one (raises if not)
            for _ in range(20):
                client.get(f"{base_url}/api/network/history", headers=headers)
            samples = []
            for i in range(args.requests):
                started = time.perf_counter()
                response = client.get(
                    f"{base_url}/api/network/history", headers=headers, params={"offset": (i % 5) * 20}
                )
                samples.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(response.text)
            reference = latency_summary(timed_gets(client, [f"{base_url}/api/orgs"] * args.requests, headers=headers))
    summary = latency_summary(samples)
    ratio = reference["median_ms"] / summary["median_ms"]
    log(f"history page: {summary}")
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {
                "records": args.records,
                "requests": args.requests,
                "page": 20,
                "citizen_exchanges": TARGET_EXCHANGES,
                "proofs_per_page": 40,
                "completeness_proof": True,
            },
            "headline_ratio_to_authenticated_read": round(ratio, 3),
            **summary,
            "authenticated_read": reference,
            "target": {
                "ratio_min": TARGET_RATIO,
                "median_ms": TARGET_MEDIAN_MS,
                "p99_ms": TARGET_P99_MS,
                "backend": "postgresql",
            },
            "within_absolute_target": summary["median_ms"] < TARGET_MEDIAN_MS and summary["p99_ms"] < TARGET_P99_MS,
            "ok": ratio >= TARGET_RATIO,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
