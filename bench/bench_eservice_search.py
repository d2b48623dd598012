"""Search by situation (``GET /api/eservice/search``) over the whole catalogue against ``openmyna serve``, and
the same server's trivial endpoint in the same run.

Each request asks a different mix of situations and facts (all situations, none, one; with and without ages),
so every procedure of the catalogue is looked at. One keep-alive client per thread. Target (issue): p99 under
50 ms. The headline is the ratio of the search rate to ``/healthz``'s.

    .venv/bin/python bench/bench_eservice_search.py [--database sqlite|postgresql] [--requests 2000]
"""

from __future__ import annotations

import argparse
import itertools

import httpx

from _common import (
    add_database_argument,
    code_version,
    emit,
    fresh_database,
    latency_summary,
    log,
    machine,
    run_threads,
    settings_for,
)
from _serve import free_port, server

WORKLOAD = "eservice_search"
TARGET_P99_MS = 50.0
SITUATIONS = ["birth", "pregnancy", "childcare", "annual", "move_in", "move_out", "move_within", "death",
              "pension_hardship"]  # fmt: skip


def queries() -> list[dict[str, object]]:
    """A cycle of searches: every situation alone, all together, none; with and without the facts."""
    asked: list[dict[str, object]] = [{"situation": [s]} for s in SITUATIONS]
    asked += [{"situation": SITUATIONS}, {}]
    facts = [{}, {"age": 35, "child_age": [0, 4]}, {"age": 62}, {"age": 29, "single_parent": "true", "child_age": [8]}]
    return [{"municipality": "131016", **q, **f} for q, f in itertools.product(asked, facts)]


def run(
    base_url: str, threads: int, count: int, path: str, params: list[dict[str, object]]
) -> tuple[float, list[float]]:
    """``count`` requests of ``path`` over ``threads`` keep-alive clients, cycling through ``params``."""
    clients = [httpx.Client(base_url=base_url, timeout=30) for _ in range(threads)]
    sent = [0] * threads

    def call(index: int) -> None:
        n = index + threads * sent[index]
        sent[index] += 1
        answer = clients[index].get(path, params=params[n % len(params)] if params else None)
        assert answer.status_code == 200, answer.text

    try:
        _, elapsed, samples = run_threads(threads, 3600, call, lambda i: i + threads * sent[i] < count)
    finally:
        for client in clients:
            client.close()
    return elapsed, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests of each kind (default 2000)")
    parser.add_argument("--threads", type=int, default=2, help="client threads (default 2)")
    args = parser.parse_args()

    from openmyna.app import migrate
    from openmyna.core.context import open_context
    from openmyna.eservice.catalogue import load_catalogue

    procedures = len(load_catalogue().of())
    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        context = open_context(settings_for(url, var_dir))
        migrate.upgrade(context.engine)
        context.engine.dispose()
        with server(url, var_dir, free_port(), workers=1, access_log=False) as base_url:
            asked = queries()
            run(base_url, args.threads, 200, "/api/eservice/search", asked)  # warm-up
            search_s, search_samples = run(base_url, args.threads, args.requests, "/api/eservice/search", asked)
            trivial_s, trivial_samples = run(base_url, args.threads, args.requests, "/healthz", [])
    search_rate, trivial_rate = args.requests / search_s, args.requests / trivial_s
    latency = latency_summary(search_samples)
    log(f"{args.requests} searches over {procedures} procedures: {search_rate:.0f}/s, p99 {latency['p99_ms']} ms")
    emit(
        {
            "workload": WORKLOAD,
            "database": args.database,
            "headline_ratio_search_to_trivial": round(search_rate / trivial_rate, 3),
            "searches_per_s": round(search_rate, 1),
            "trivial_per_s": round(trivial_rate, 1),
            "procedures": procedures,
            "target_p99_ms": TARGET_P99_MS,
            "ok": latency["p99_ms"] < TARGET_P99_MS,
            "search_latency": latency,
            "trivial_latency": latency_summary(trivial_samples),
            "threads": args.threads,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
