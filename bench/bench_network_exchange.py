"""End-to-end exchanges through the HTTP API under 16 concurrent clients (wrk), on SQLite or PostgreSQL.

Each request: authenticate the pension office's bearer token, check the exchange-table row, translate its
agency code into the town's, read the town's tax ledger in-process, write both sides' records; the
server's publisher folds them into the Merkle log and signs a tree head every 2 s, as in production.
The reference, in the same run with the same wrk settings and token: ``GET /api/orgs`` (the same bearer-token
authentication and one read of a small table). Headline: exchanges/s / reference requests/s. Target (issue
17): at least 0.25 (an exchange, with its table check, code translation, provider read and two records written,
costs at most four trivial authenticated requests); issue 7's 1,000 exchanges/s on 2 cores is reported beside.

    .venv/bin/python bench/bench_network_exchange.py [--database sqlite|postgresql] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from _common import add_database_argument, code_version, emit, fresh_database, log, machine, settings_for
from _serve import access_token, free_port, server

WORKLOAD = "network_exchange"
TARGET_RATIO = 0.25  # exchanges/s over GET /api/orgs requests/s
TARGET_RATE = 1_000
REQUESTER, PROVIDER = "nenkin", "131016"


def prepare(url: str, var_dir: Path, residents: int) -> tuple[list[str], bytes]:
    """Seed the demo world; return the pension office's codes for people and its private key."""
    from sqlalchemy import select

    from openmyna.app import migrate
    from openmyna.app.seed import seed_world
    from openmyna.core.context import open_context
    from openmyna.network.models import CodeLink
    from openmyna.orgs import service as orgs

    context = open_context(settings_for(url, var_dir))
    migrate.upgrade(context.engine)
    seed_world(context, residents=residents, seed=42, progress=lambda _n: None)
    with context.session_factory() as session:
        codes = list(session.scalars(select(CodeLink.code).where(CodeLink.agency == REQUESTER).limit(5000)))
        pem = orgs.custodial_private_key(context.keys, orgs.get_organisation(session, REQUESTER))
    context.engine.dispose()
    return codes, pem


STATUS_REPORT = [  # wrk's done(): the non-2xx and socket error counts, which parse_wrk reads
    "done = function(summary, latency, requests)",
    '  io.write(string.format("STATUS non2xx=%d errors=%d\\n", summary.errors.status,',
    "    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))",
    "end",
]


def wrk_script(path: Path, token: str, codes: list[str]) -> None:
    bodies = [
        json.dumps(
            {
                "business": "national_pension_premium",
                "provider": PROVIDER,
                "item": "local_tax",
                "subject_code": code,
                "purpose_reference": "BENCH",
            }
        )
        for code in codes
    ]
    path.write_text(
        "\n".join(
            [
                'wrk.method = "POST"',
                'wrk.headers["Content-Type"] = "application/json"',
                f'wrk.headers["Authorization"] = "Bearer {token}"',
                "bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}",
                "counter = 0",
                "request = function()",
                "  counter = counter + 1",
                "  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])",
                "end",
                *STATUS_REPORT,
            ]
        )
    )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, Any]:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        return round(float(match.group(1)) * _UNITS[match.group(2)], 3) if match else float("nan")

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in ([\d.]+)s", output)
    status = re.search(r"STATUS non2xx=(\d+) errors=(\d+)", output)
    return {
        "requests_per_s": float(rate.group(1)) if rate else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": latency("50"),
        "p75_ms": latency("75"),
        "p90_ms": latency("90"),
        "p99_ms": latency("99"),
        "non_2xx": int(status.group(1)) if status else -1,
        "socket_errors": int(status.group(2)) if status else -1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument("--residents", type=int, default=20_000, help="demo town size (default 20,000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2, one per core)")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("this benchmark drives Debian's wrk: apt-get install wrk")

    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        codes, pem = prepare(url, var_dir, args.residents)
        log(f"seeded {args.residents:,} residents; {len(codes):,} distinct subjects")
        with server(url, var_dir, free_port(), workers=args.workers, access_log=False) as base_url:
            with httpx.Client() as client:
                token = access_token(client, base_url, REQUESTER, pem)
            script = var_dir / "exchange.lua"
            wrk_script(script, token, codes)
            trivial = var_dir / "status.lua"
            trivial.write_text("\n".join(STATUS_REPORT))
            subprocess.run(
                [wrk, "-t2", "-c16", "-d2s", "-s", str(script), f"{base_url}/api/network/queries"],
                capture_output=True,
                check=True,
            )  # warm-up
            run = subprocess.run(
                [
                    wrk,
                    "-t2",
                    f"-c{args.connections}",
                    f"-d{args.duration}s",
                    "--latency",
                    "-s",
                    str(script),
                    f"{base_url}/api/network/queries",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            log(run.stdout)
            figures = parse_wrk(run.stdout)
            reference_run = subprocess.run(
                [wrk, "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s", str(trivial),
                 "-H", f"Authorization: Bearer {token}", f"{base_url}/api/orgs"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            log(reference_run.stdout)
            reference = parse_wrk(reference_run.stdout)
            with httpx.Client() as client:
                sth = client.get(f"{base_url}/api/network/sth").json()
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {
                "residents": args.residents,
                "duration_s": args.duration,
                "connections": args.connections,
                "server_workers": args.workers,
                "load_generator": "wrk (same machine)",
            },
            "headline_ratio_to_authenticated_read": round(figures["requests_per_s"] / reference["requests_per_s"], 3),
            **figures,
            "authenticated_read": reference,
            "tree_size_after": sth.get("tree_size"),
            "target": {"ratio_min": TARGET_RATIO, "requests_per_s": TARGET_RATE},
            "within_absolute_target": figures["requests_per_s"] >= TARGET_RATE,
            "ok": figures["requests_per_s"] >= TARGET_RATIO * reference["requests_per_s"]
            and figures["non_2xx"] == 0 == reference["non_2xx"],
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
