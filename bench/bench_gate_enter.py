"""Gate admissions (入退館ゲート) end to end against ``openmyna serve``, and its trivial endpoint.

One admission, as a gate's controller makes it: ask for a challenge naming the gate (``POST
/api/gates/{code}/challenge``, the employer's bearer token), read the employer's application from the card's
free space and have the card sign the challenge, post the read (``POST /api/gates/{code}/enter``: challenge
single use, signature, chain, dates, policy and OCSP status checked, the card in use, the badge matched, the
read logged and recorded as the employee's access event). The cards are the virtual chips held in memory by
the client (a real card signs on the card), so the timed loop measures the platform; the latency of the
enter call alone is reported beside. The same threads then call ``/healthz`` for as long; the ratio of the
two rates is the headline. Target (issue 16): gate admissions p99 under 30 ms.

    .venv/bin/python bench/bench_gate_enter.py [--database sqlite|postgresql] [--admissions 1000]
"""

from __future__ import annotations

import argparse
import base64
import time

import httpx

from _common import (
    add_database_argument,
    code_version,
    cpu_busy_cores_since,
    cpu_mark,
    demo_world,
    emit,
    latency_summary,
    log,
    machine,
    run_threads,
)
from _serve import free_port, server

WORKLOAD = "gate_enter"
TARGET_P99_MS = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds of /healthz (default 10)")
    parser.add_argument("--admissions", type=int, default=1000, help="timed admissions, over all threads")
    parser.add_argument("--threads", type=int, default=4, help="client threads, one employee's card each (default 4)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    args = parser.parse_args()

    from openmyna.card import service as cards
    from openmyna.carduses import demo, service
    from openmyna.core.db import unit_of_work
    from openmyna.orgs import service as orgs

    gate, employer = demo.GATES[0][0], demo.EMPLOYER
    with demo_world(args.database, WORKLOAD) as (url, var_dir, context, report):
        held = [c for c in report.cards if c.state == "active"][: args.threads]
        with unit_of_work(context.session_factory) as session:
            for card in (c for c in held if c.persona != "employee"):  # the employee persona has an ID already
                service.register_badge(
                    session, keys=context.keys, employer=employer, card_id=card.card_id, employee_id=f"B{card.card_id}"
                )
        with context.session_factory() as session:
            chips = [cards.open_chip(context.keys, cards.get_card(session, card_id=c.card_id)) for c in held]
        certificates = [base64.b64encode(chip.certificate("auth")).decode() for chip in chips]
        token = orgs.issue_access_token(
            context.keys,
            org_code=employer,
            scopes={"gates:operate"},
            issuer=context.settings.base_url,
            ttl_seconds=3600,
        )["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        log(f"{len(held)} cards with employee IDs at gate {gate}; serving with {args.workers} worker(s)")
        with server(url, var_dir, free_port(), workers=args.workers, access_log=False) as base_url:
            clients = [httpx.Client(base_url=base_url, timeout=30) for _ in range(args.threads)]
            quota = args.admissions // args.threads + 1
            done = [0] * args.threads
            enter_samples: list[list[float]] = [[] for _ in range(args.threads)]

            def admit(index: int) -> None:
                client, chip = clients[index], chips[index]
                issued = client.post(f"/api/gates/{gate}/challenge", headers=auth)
                assert issued.status_code == 200, issued.text
                challenge = issued.json()["challenge"]
                body = {
                    "challenge": challenge,
                    "certificate": certificates[index],
                    "signature": base64.b64encode(
                        chip.sign("auth", held[index].auth_pin, data=base64.b64decode(challenge))
                    ).decode(),
                    "app": chip.read_app(service.app_name(employer)),
                }
                started = time.perf_counter()
                answer = client.post(f"/api/gates/{gate}/enter", json=body, headers=auth)
                enter_samples[index].append(time.perf_counter() - started)
                assert answer.status_code == 200 and answer.json()["admitted"] is True, answer.text
                done[index] += 1

            def trivial(index: int) -> None:
                assert clients[index].get("/healthz").status_code == 200

            admit(0)  # warm: authorities loaded, status entries read
            enter_samples[0].clear()
            mark = cpu_mark()
            admissions, admit_s, samples = run_threads(args.threads, 600, admit, lambda i: done[i] < quota)
            admit_cores = cpu_busy_cores_since(mark)
            mark = cpu_mark()
            calls, trivial_s, trivial_samples = run_threads(args.threads, args.seconds, trivial)
            trivial_cores = cpu_busy_cores_since(mark)
            for client in clients:
                client.close()
    rate, trivial_rate = admissions / admit_s, calls / trivial_s
    latency = latency_summary(samples)
    p99 = latency["p99_ms"]
    log(f"{admissions} admissions in {admit_s:.1f} s ({rate:.0f}/s, p99 {p99} ms); /healthz {trivial_rate:.0f}/s")
    emit(
        {
            "workload": WORKLOAD,
            "database": args.database,
            "headline_ratio_admission_to_trivial": round(rate / trivial_rate, 3),
            "admissions_per_s": round(rate, 1),
            "trivial_per_s": round(trivial_rate, 1),
            "target_p99_ms": TARGET_P99_MS,
            "ok": latency["p99_ms"] < TARGET_P99_MS,
            "admissions": admissions,
            "admission_latency": latency,
            "enter_call_latency": latency_summary([s for per in enter_samples for s in per]),
            "trivial_latency": latency_summary(trivial_samples),
            "busy_cores_admissions": admit_cores,
            "busy_cores_trivial": trivial_cores,
            "threads": args.threads,
            "server_workers": args.workers,
            "note": "one admission = two requests (challenge, enter) plus the card's RSA signature in the client",
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
