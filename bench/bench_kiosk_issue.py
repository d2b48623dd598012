"""Convenience-store issuance: certificate generate + sign at the municipality, and kiosk → PDF through all
three services on loopback, beside the same server's trivial endpoint.

1. In this process: a 住民票の写し (a four-person household) drawn and PAdES-signed (time-stamp, OCSP, CRL)
   by the municipality's key, one after another: p50 (target < 50 ms). Then the same in one forked process
   a core at once (``--processes``, default the core count), as the municipality's server runs one worker a
   core: certificates/s on all cores (target >= 40/s on 2 cores).
2. Two ``openmyna serve`` processes on one SQLite file: the municipality's certificate server, and the centre
   (``OPENMYNA_KIOSK_MUNICIPALITY_URL`` pointing at the first); this process is the store terminal
   (``kiosk.clients.HttpCentre``, the store's private_key_jwt token). Each request: the card signs (virtual
   chip, not timed), then the terminal → centre → municipality → PDF back → the fee taken (timed). Target:
   p99 < 300 ms. Then ``/healthz`` of the centre for as long, the same client: the headline ratio.

The servers run with ``OPENMYNA_KIOSK_ENFORCE_HOURS=false`` so the benchmark runs at any hour.

    .venv/bin/python bench/bench_kiosk_issue.py [--database sqlite] [--documents 60] [--requests 60]
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import time

import httpx

from _common import (
    add_database_argument,
    code_version,
    cpu_busy_cores_since,
    cpu_mark,
    emit,
    fresh_database,
    latency_summary,
    log,
    machine,
    settings_for,
)
from _serve import free_port, server

WORKLOAD = "kiosk_issue"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument("--documents", type=int, default=60, help="documents generated + signed in process")
    parser.add_argument("--requests", type=int, default=60, help="kiosk requests through the three services")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of /healthz")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="producers at once")
    args = parser.parse_args()

    from openmyna.app import migrate
    from openmyna.app.seed import seed_world
    from openmyna.app.wiring import wire
    from openmyna.card.reader import VirtualReader
    from openmyna.core.context import open_context
    from openmyna.core.db import unit_of_work
    from openmyna.jpki.authority import CaConfig
    from openmyna.kiosk import centre, clients, documents, municipality, runtime, terminal
    from openmyna.kiosk.demo import DEFAULT_STORE
    from openmyna.orgs import service as orgs
    from openmyna.registry import service as registry

    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        settings = settings_for(url, var_dir, kiosk_enforce_hours=False)
        context = open_context(settings)
        wire(context.settings, context.keys)
        migrate.upgrade(context.engine)
        report = seed_world(context, residents=60, seed=7, progress=lambda _n: None)
        parent = next(c for c in report.cards if c.persona == "parent")
        resident_id = next(p.resident_id for p in report.personas if p.key == "parent")
        config = CaConfig.from_settings(context.settings, context.keys)
        town = runtime.participating(context.settings)[context.settings.municipality_code]

        # 1. generate + sign, in process
        with unit_of_work(context.session_factory) as session:
            resident = registry.find_resident(session, resident_id=resident_id)
            document = documents.juminhyo(
                session, resident=resident, options=documents.Options(), keys=context.keys, mayor=town.mayor
            )
            municipality.produce(
                session,
                config=config,
                municipality=town,
                document=document,
                number="1000000000000000",
                copies=1,
                base_url=context.settings.base_url,
            )  # warm: fonts, keys, the signer objects
            samples = []
            mark = cpu_mark()
            began = time.perf_counter()
            for index in range(args.documents):
                started = time.perf_counter()
                municipality.produce(
                    session,
                    config=config,
                    municipality=town,
                    document=document,
                    number=f"{2000000000000000 + index}",
                    copies=1,
                    base_url=context.settings.base_url,
                )
                samples.append(time.perf_counter() - started)
            sign_s = time.perf_counter() - began
            sign_cores = cpu_busy_cores_since(mark)
        sign_rate = args.documents / sign_s
        log(f"generate+sign: {sign_rate:.1f}/s, p50 {sorted(samples)[len(samples) // 2] * 1000:.1f} ms")

        # 1b. the same on every core: one forked producer a core, each with its own connections
        def producer(first: int, count: int, ready: object, go: object) -> None:
            for factory in (context.session_factory, context.read_session_factory):
                factory.kw["bind"].dispose(close=False)  # the parent's pooled connections stay the parent's
            with context.read_session_factory() as session:  # reads only: producers do not queue for the writer
                produce = functools.partial(
                    municipality.produce,
                    session,
                    config=config,
                    municipality=town,
                    document=document,
                    copies=1,
                    base_url=context.settings.base_url,
                )
                produce(number=f"{first - 1}")  # warm this process's own signer objects
                ready.release()  # type: ignore[attr-defined]
                go.wait()  # type: ignore[attr-defined]
                for index in range(count):
                    produce(number=f"{first + index}")

        fork = multiprocessing.get_context("fork")
        ready, go = fork.Semaphore(0), fork.Event()
        each = max(1, args.documents // args.processes)
        producers = [
            fork.Process(target=producer, args=(3000000000000000 + k * 100000, each, ready, go))
            for k in range(args.processes)
        ]
        for process in producers:
            process.start()
        for _ in producers:
            while not ready.acquire(timeout=1):
                assert all(p.is_alive() for p in producers), "a producer failed while warming up"
        mark = cpu_mark()
        began = time.perf_counter()
        go.set()
        for process in producers:
            process.join()
            assert process.exitcode == 0, f"a producer failed ({process.exitcode})"
        parallel_s = time.perf_counter() - began
        parallel_cores = cpu_busy_cores_since(mark)
        parallel_rate = each * args.processes / parallel_s
        log(f"generate+sign in {args.processes} processes: {parallel_rate:.1f}/s")

        # 2. kiosk -> centre -> municipality, two servers
        extra = {"OPENMYNA_KIOSK_ENFORCE_HOURS": "false", "OPENMYNA_NETWORK_PUBLISH_SECONDS": "0"}
        with server(url, var_dir, free_port(), extra_env=extra, access_log=False) as municipal_url:
            centre_env = {**extra, "OPENMYNA_KIOSK_MUNICIPALITY_URL": municipal_url}
            with server(url, var_dir, free_port(), extra_env=centre_env, access_log=False) as centre_url:
                with unit_of_work(context.session_factory) as session:
                    key = orgs.custodial_private_key(context.keys, orgs.get_organisation(session, DEFAULT_STORE))
                terminal_client = clients.HttpCentre(base_url=centre_url, store=DEFAULT_STORE, private_pem=key)
                reader = VirtualReader(context.session_factory, context.keys, parent.card_id)

                def one() -> float:
                    request_key = terminal.new_request_key()
                    signed = terminal.sign_with_card(
                        reader,
                        pin=parent.auth_pin,
                        store=DEFAULT_STORE,
                        request_key=request_key,
                        kind="juminhyo",
                        copies=1,
                    )
                    request = centre.CardRequest(
                        store=DEFAULT_STORE,
                        request_key=request_key,
                        signed_at=signed.signed_at,
                        kind="juminhyo",
                        options=documents.Options(),
                        copies=1,
                        tendered=None,
                        certificate=signed.certificate,
                        signature=signed.signature,
                    )
                    started = time.perf_counter()
                    printed = terminal.issue(context.session_factory, centre_client=terminal_client, request=request)
                    assert printed.pdf.startswith(b"%PDF")
                    return time.perf_counter() - started

                one()  # warm: tokens, the servers' signer objects
                mark = cpu_mark()
                kiosk_samples = [one() for _ in range(args.requests)]
                kiosk_cores = cpu_busy_cores_since(mark)
                trivial = []
                with httpx.Client(base_url=centre_url, timeout=30) as client:
                    deadline = time.perf_counter() + args.seconds
                    while time.perf_counter() < deadline:
                        started = time.perf_counter()
                        assert client.get("/healthz").status_code == 200
                        trivial.append(time.perf_counter() - started)
        context.engine.dispose()
    kiosk_rate = len(kiosk_samples) / sum(kiosk_samples)
    trivial_rate = len(trivial) / sum(trivial)
    kiosk = latency_summary(kiosk_samples)
    sign = latency_summary(samples)
    emit(
        {
            "workload": WORKLOAD,
            "database": args.database,
            "headline_ratio_kiosk_to_trivial": round(kiosk_rate / trivial_rate, 4),
            "generate_sign_per_s": round(parallel_rate, 1),
            "generate_sign_processes": args.processes,
            "generate_sign_per_s_one_process": round(sign_rate, 1),
            "generate_sign_latency": sign,
            "kiosk_to_pdf_latency": kiosk,
            "kiosk_requests_per_s_one_client": round(kiosk_rate, 1),
            "trivial_per_s_one_client": round(trivial_rate, 1),
            "targets": {"generate_sign_p50_ms": 50, "generate_sign_per_s": 40, "kiosk_p99_ms": 300},
            "ok": parallel_rate >= 40 and sign["median_ms"] < 50 and kiosk["p99_ms"] < 300,
            "busy_cores_sign": sign_cores,
            "busy_cores_sign_parallel": parallel_cores,
            "busy_cores_kiosk": kiosk_cores,
            "note": (
                "p50 from one process signing one after another; the rate from one process a core; "
                "the kiosk client and its virtual chip share the cores with both servers"
            ),
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
