"""My Page's exchange history (menu A) over a large exchange log, proofs included, against ``/healthz``.

``GET /api/portal/history`` is what the history page's script checks: ten exchanges about the logged-in
resident, newest first, each record with its leaf index and inclusion proof, the signed tree head and the
page's completeness proof (the person's chain and the person map's proof), the agencies of the filter, and
the reading recorded as an access event of the person. The page itself (``GET /portal/history``, the same
answer rendered with Jinja2) is timed too. The log is the network benchmarks' large log (bench/_network.py:
built once by COPY, kept as ``openmyna_bench_netlog_map2_<records>``); its target person, who has 120
exchanges spread through it, is the resident whose portal session reads. That session is begun by the
service function a card login ends in (``portal.auth.service.begin``): the synthetic log has no registry
and no cards behind it.

One keep-alive client asks sequentially, so the latencies are the server's time plus a loopback round
trip; the same client then asks ``/healthz`` as often, and the ratio of the medians is the headline.
Target (issue): p99 under 100 ms server time with 10,000,000 records in PostgreSQL.

    nice -n 10 .venv/bin/python bench/bench_portal_history.py --build-only   # once: the log, niced
    .venv/bin/python bench/bench_portal_history.py [--records 10000000] [--requests 500]
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable

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
    settings_for,
)
from _network import TARGET_CITIZEN, TARGET_EXCHANGES, cached_log
from _serve import free_port, server

WORKLOAD = "portal_history"
TARGET_P99_MS = 100.0
PER_PAGE = 10
PAGES = 5  # the requests walk pages 1 to 5 of the person's history


def _portal_cookie(url: str, var_dir: object) -> str:
    """The target person's signed session cookie, as a card login leaves it."""
    from itsdangerous import TimestampSigner

    from openmyna.core import sessions
    from openmyna.core.context import open_context
    from openmyna.core.db import unit_of_work
    from openmyna.portal.auth import service as portal_auth

    context = open_context(settings_for(url, var_dir))  # type: ignore[arg-type]
    try:
        with unit_of_work(context.session_factory) as session:
            token = portal_auth.begin(
                session,
                resident_id=0,  # the synthetic log's person has no registry entry; the history reads the subject
                subject=TARGET_CITIZEN,
                method="card",
                address="127.0.0.1",
                timeouts=sessions.Timeouts.from_settings(context.settings),
            )
        payload = base64.b64encode(json.dumps({sessions.COOKIE_KEY: token}).encode())
        return TimestampSigner(context.keys.session_secret).sign(payload).decode()
    finally:
        context.engine.dispose()


def _timed(requests: int, ask: Callable[[int], httpx.Response]) -> list[float]:
    samples = []
    for i in range(requests):
        started = time.perf_counter()
        answer = ask(i)
        samples.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.set_defaults(database="postgresql")
    parser.add_argument("--records", type=int, default=10_000_000, help="records in the log (default 10,000,000)")
    parser.add_argument("--requests", type=int, default=500, help="timed history answers of each kind (default 500)")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the kept log, then stop")
    args = parser.parse_args()
    if args.build_only:
        with fresh_database("sqlite", WORKLOAD) as (_scratch, var_dir):
            log(f"log ready: {cached_log(args.database, args.records, var_dir)}")
        return
    from openmyna.core.crypto import KeyRing
    from openmyna.network.person_check import check_history

    with fresh_database("sqlite", WORKLOAD) as (_scratch, var_dir):
        url = cached_log(args.database, args.records, var_dir)
        cookie = _portal_cookie(url, var_dir)
        env = {"OPENMYNA_NETWORK_PUBLISH_SECONDS": "0"}
        with server(url, var_dir, free_port(), access_log=False, extra_env=env) as base_url, httpx.Client() as client:
            client.cookies.set("openmyna_session", cookie, domain="127.0.0.1")
            first = client.get(f"{base_url}/api/portal/history")
            assert first.status_code == 200, first.text[:500]
            page = first.json()
            assert page["total"] == TARGET_EXCHANGES and len(page["items"]) == PER_PAGE, page.get("total")
            assert all(r["status"] == "included" for item in page["items"] for r in item["records"])
            assert page["head_signature_checked_by_server"] is True
            # The whole history as the person's own client checks it (network.person_check): both signatures
            # of the head, every page's chain segment and map proof, and each record's audit path folded up
            # to the signed root; every record of the person's chain shown once.
            pages = [
                client.get(f"{base_url}/api/portal/history", params={"page": n}).json()
                for n in range(1, -(-TARGET_EXCHANGES // PER_PAGE) + 1)
            ]
            report = check_history(
                pages, citizen=TARGET_CITIZEN, public=KeyRing(DATA_KEY_BYTES).log_signing_key.public_key()
            )
            assert report.ok and report.records == 2 * TARGET_EXCHANGES, report
            log(f"history checked by the client's verifier: {report}")
            for _ in range(20):  # warm: connections, caches, the plan
                client.get(f"{base_url}/api/portal/history")
                client.get(f"{base_url}/healthz")

            def api(i: int) -> httpx.Response:
                return client.get(f"{base_url}/api/portal/history", params={"page": i % PAGES + 1})

            def html(i: int) -> httpx.Response:
                return client.get(
                    f"{base_url}/portal/history", params={"page": i % PAGES + 1}, headers={"accept": "text/html"}
                )

            def trivial(_i: int) -> httpx.Response:
                return client.get(f"{base_url}/healthz")

            api_samples = _timed(args.requests, api)
            html_samples = _timed(args.requests, html)
            trivial_samples = _timed(args.requests, trivial)
    api_s, html_s, trivial_s = (latency_summary(s) for s in (api_samples, html_samples, trivial_samples))
    log(f"/api/portal/history {api_s}; /portal/history {html_s}; /healthz {trivial_s}")
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {
                "records": args.records,
                "requests": args.requests,
                "page": PER_PAGE,
                "citizen_exchanges": TARGET_EXCHANGES,
                "proofs_per_page": 2 * PER_PAGE,
                "completeness_proof": True,
            },
            "headline_ratio_history_to_trivial_median": round(api_s["median_ms"] / trivial_s["median_ms"], 1),
            "api_history": api_s,
            "page_history": html_s,
            "trivial": trivial_s,
            "target": {"p99_ms": TARGET_P99_MS, "backend": "postgresql", "records": 10_000_000},
            "ok": args.database == "postgresql"
            and args.records >= 10_000_000
            and api_s["p99_ms"] < TARGET_P99_MS
            and html_s["p99_ms"] < TARGET_P99_MS,
            "note": "sequential keep-alive client: latency = server time + one loopback round trip",
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
