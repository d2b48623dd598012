"""``make soak``, second half: a mixed load against a real server on loopback for a bounded time.

``openmyna serve`` (2 workers, its tree-head publisher on) over a fresh seeded SQLite database on a free
127.0.0.1 port; concurrent clients send a weighted mix of what municipalities, agencies, J-LIS, corporate
API users and residents do, reads and writes, until the time is up. Every answer is checked against the
status its request expects. One JSON line: per kind and overall, requests, p50/p99, server errors (5xx),
unexpected statuses, timeouts and connection errors; ``ok`` (and the exit status) says none occurred.

    .venv/bin/python bench/soak.py [--minutes 10] [--connections 16] [--residents 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from _common import code_version, emit, fresh_database, latency_summary, log, machine, settings_for
from _serve import access_token, free_port, server

WORKLOAD = "soak"
TIMEOUT_S = 10.0
TOWN, AGENCY, JLIS = "131016", "nenkin", "jlis"


@dataclass(frozen=True)
class Seeded:
    """What the load needs from the seeded database: keys, ids, numbers and codes."""

    pems: dict[str, bytes]
    residents: list[int]
    my_numbers: list[str]
    cards: list[int]
    agency_codes: list[str]
    corporations: list[str]
    corporate_token: str
    citizen_token: str


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    expect: frozenset[int]
    headers: dict[str, str]
    params: dict[str, str] | None = None
    json: Any = None


def prepare(url: str, var_dir: Path, residents: int, token_ttl: int) -> Seeded:
    """``openmyna seed``'s world, and what the clients need from it."""
    from sqlalchemy import select

    from openmyna.app import migrate
    from openmyna.app.seed import seed_world
    from openmyna.core.context import open_context
    from openmyna.corporate import service as corporate
    from openmyna.corporate.models import Corporation
    from openmyna.network.models import CodeLink
    from openmyna.orgs import service as orgs
    from openmyna.registry import service as registry
    from openmyna.registry.models import Resident

    context = open_context(settings_for(url, var_dir))
    migrate.upgrade(context.engine)
    report = seed_world(context, residents=residents, seed=42, progress=lambda _n: None)
    with context.session_factory() as session, session.begin():
        pems = {
            code: orgs.custodial_private_key(context.keys, orgs.get_organisation(session, code))
            for code in (TOWN, AGENCY, JLIS)
        }
        people = list(session.scalars(select(Resident).where(Resident.status == "resident").limit(200)))
        codes = list(session.scalars(select(CodeLink.code).where(CodeLink.agency == AGENCY).limit(2000)))
        numbers = [str(n) for n in session.scalars(select(Corporation.number).limit(200))]
        token = corporate.issue_token(session, name="soak")
        persona = registry.find_resident(session, resident_id=report.personas[0].resident_id)
        assert persona is not None
        citizen = orgs.issue_access_token(
            context.keys, org_code=registry.subject_of(persona), scopes={"self"}, issuer="soak", ttl_seconds=token_ttl
        )
        seeded = Seeded(
            pems=pems,
            residents=[p.id for p in people],
            my_numbers=[registry.my_number_of(context.keys, p) for p in people[:50]],
            cards=[c.card_id for c in report.cards if c.state == "active"],
            agency_codes=codes,
            corporations=numbers,
            corporate_token=token,
            citizen_token=str(citizen["access_token"]),
        )
    context.engine.dispose()
    return seeded


def mix(seeded: Seeded, tokens: dict[str, str], certificate: str) -> list[tuple[str, int, Callable[[], Call]]]:
    """(kind, weight, make a request) for everything the load sends."""
    town = {"Authorization": f"Bearer {tokens[TOWN]}"}
    agency = {"Authorization": f"Bearer {tokens[AGENCY]}"}
    jlis = {"Authorization": f"Bearer {tokens[JLIS]}"}
    citizen = {"Authorization": f"Bearer {seeded.citizen_token}"}
    hojin = {"X-hojinInfo-api-token": seeded.corporate_token}
    ok, created = frozenset({200}), frozenset({201})
    pick = random.choice

    def birth() -> Call:
        day = (dt.date(2025, 4, 1) + dt.timedelta(days=random.randrange(300))).isoformat()
        body = {
            "kind": "birth",
            "family_name": "負荷",
            "given_name": "試験",
            "family_name_kana": "フカ",
            "given_name_kana": "シケン",
            "birth_date": day,
            "sex": pick(["male", "female"]),
            "event_date": day,
            "address": {"postal_code": "102-0072", "block": f"{random.randrange(1, 40)}番1号"},
        }
        return Call("POST", "/api/registry/residents", created, town, json=body)

    def exchange() -> Call:
        body = {
            "business": "national_pension_premium",
            "provider": TOWN,
            "item": "local_tax",
            "subject_code": pick(seeded.agency_codes),
            "purpose_reference": "SOAK",
        }
        return Call("POST", "/api/network/queries", ok, agency, json=body)

    return [
        ("exchange", 20, exchange),
        ("history", 6, lambda: Call("GET", "/api/network/history", ok, citizen)),
        ("tree_head", 3, lambda: Call("GET", "/api/network/sth", frozenset({200, 404}), {})),
        ("resident", 10, lambda: Call("GET", f"/api/registry/residents/{pick(seeded.residents)}", ok, town)),
        ("search", 8, lambda: Call("GET", "/api/registry/residents", ok, town, params={"kana": pick("アイカサタナ")})),
        (
            "lookup",
            5,
            lambda: Call(
                "POST", "/api/registry/residents/lookup", ok, town, json={"my_number": pick(seeded.my_numbers)}
            ),
        ),
        ("birth", 3, birth),
        ("card", 6, lambda: Call("GET", f"/api/cards/{pick(seeded.cards)}", ok, town)),
        ("validity", 6, lambda: Call("POST", "/api/jpki/validity", ok, jlis, json={"certificate": certificate})),
        ("ca_certificate", 2, lambda: Call("GET", "/jpki/ca/auth.pem", ok, {})),
        (
            "number_check",
            5,
            lambda: Call("POST", "/api/numbers/check", ok, {}, json={"number": pick(seeded.my_numbers)}),
        ),
        ("gbiz_search", 5, lambda: Call("GET", "/hojin/v2/hojin", ok, hojin, params={"name": pick("株有合一")})),
        ("gbiz_detail", 5, lambda: Call("GET", f"/hojin/v2/hojin/{pick(seeded.corporations)}", ok, hojin)),
        (
            "nta_number",
            3,
            lambda: Call(
                "GET",
                "/4/num",
                ok,
                {},
                params={"id": seeded.corporate_token, "type": "02", "number": pick(seeded.corporations)},
            ),
        ),
        ("health", 2, lambda: Call("GET", "/healthz", ok, {})),
        ("openapi", 1, lambda: Call("GET", "/openapi.json", ok, {})),
    ]


@dataclass
class Tally:
    latencies: dict[str, list[float]]
    statuses: dict[str, Counter[int]]
    unexpected: Counter[str]
    timeouts: Counter[str]
    connection_errors: Counter[str]
    examples: list[str]


async def _client(
    client: httpx.AsyncClient, calls: list[tuple[str, int, Callable[[], Call]]], deadline: float, tally: Tally
) -> None:
    kinds = [kind for kind, _, _ in calls]
    makers = {kind: make for kind, _, make in calls}
    weights = [weight for _, weight, _ in calls]
    while time.monotonic() < deadline:
        kind = random.choices(kinds, weights)[0]
        call = makers[kind]()
        began = time.perf_counter()
        try:
            response = await client.request(
                call.method, call.path, headers=call.headers, params=call.params, json=call.json
            )
        except httpx.TimeoutException:
            tally.timeouts[kind] += 1
            continue
        except httpx.TransportError as error:
            tally.connection_errors[kind] += 1
            if len(tally.examples) < 20:
                tally.examples.append(f"{kind}: {type(error).__name__}: {error}")
            continue
        tally.latencies[kind].append(time.perf_counter() - began)
        tally.statuses[kind][response.status_code] += 1
        if response.status_code not in call.expect:
            tally.unexpected[kind] += 1
            if len(tally.examples) < 20:
                tally.examples.append(
                    f"{kind}: {call.method} {call.path} → {response.status_code} {response.text[:300]}"
                )


async def load(
    base_url: str, calls: list[tuple[str, int, Callable[[], Call]]], seconds: float, connections: int
) -> Tally:
    """``connections`` clients, each sending one request after another, until ``seconds`` have passed."""
    assert base_url.startswith("http://127.0.0.1:"), "the soak sends traffic to loopback only"
    tally = Tally(defaultdict(list), defaultdict(Counter), Counter(), Counter(), Counter(), [])
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT_S, limits=limits, trust_env=False) as client:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_client(client, calls, deadline, tally) for _ in range(connections)))
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of load (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--residents", type=int, default=2000, help="demo town size (default 2,000)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2, one per core)")
    args = parser.parse_args()
    seconds = args.minutes * 60
    token_ttl = int(seconds) + 600
    env = {"OPENMYNA_ACCESS_TOKEN_TTL_SECONDS": str(token_ttl), "OPENMYNA_CORPORATE_RATE_LIMIT_PER_SECOND": "100000"}
    with fresh_database("sqlite", WORKLOAD) as (url, var_dir):
        seeded = prepare(url, var_dir, args.residents, token_ttl)
        log(f"seeded {args.residents:,} residents, {len(seeded.cards)} cards in use")
        with server(url, var_dir, free_port(), workers=args.workers, extra_env=env, access_log=False) as base_url:
            with httpx.Client(base_url=base_url, trust_env=False) as client:
                tokens = {code: access_token(client, base_url, code, pem) for code, pem in seeded.pems.items()}
                town = {"Authorization": f"Bearer {tokens[TOWN]}"}
                certificate = client.get(f"/api/cards/{seeded.cards[0]}/certificates/auth", headers=town).text
            calls = mix(seeded, tokens, certificate)
            log(f"{args.connections} clients for {args.minutes:g} min against {base_url}")
            began = time.monotonic()
            tally = asyncio.run(load(base_url, calls, seconds, args.connections))
            elapsed = time.monotonic() - began
    every = [s for samples in tally.latencies.values() for s in samples]
    kinds = {
        kind: {"requests": len(samples), **latency_summary(samples), "statuses": dict(tally.statuses[kind])}
        for kind, samples in sorted(tally.latencies.items())
    }
    server_errors = sum(n for c in tally.statuses.values() for status, n in c.items() if status >= 500)
    problems = {
        "server_errors": server_errors,
        "unexpected_statuses": sum(tally.unexpected.values()),
        "timeouts": sum(tally.timeouts.values()),
        "connection_errors": sum(tally.connection_errors.values()),
    }
    for example in tally.examples:
        log(example)
    emit(
        {
            "workload": WORKLOAD,
            "backend": "sqlite",
            "params": {
                "minutes": args.minutes,
                "connections": args.connections,
                "residents": args.residents,
                "server_workers": args.workers,
                "timeout_s": TIMEOUT_S,
            },
            "requests": len(every),
            "requests_per_s": round(len(every) / elapsed, 1),
            **({"overall": latency_summary(every)} if every else {}),
            **problems,
            "kinds": kinds,
            "ok": bool(every) and not any(problems.values()),
            "machine": machine(),
            "code": code_version(),
        }
    )
    if not every or any(problems.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
