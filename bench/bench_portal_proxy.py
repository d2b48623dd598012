"""What acting as a proxy costs a request: the grant checked again and the use recorded, every time.

Two residents are born through the registry API; one grants the other menu C through the proxy API (the
card authentication of a fresh session), the other accepts and switches. Then ``clients`` keep-alive clients
load ``GET /api/portal/notices/unread-count`` (menu C, a light read) for ``seconds`` as the principal in their
own session, then as the proxy acting for them (the same read plus the grant re-read and an access event
written per request), then the same server's ``/healthz``. Headline: proxy/own (target, issue 17: at least
0.5); proxy/trivial beside.

    .venv/bin/python bench/bench_portal_proxy.py [--database sqlite|postgresql] [--seconds 10] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import time
from typing import Any

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
from _serve import access_token, free_port, server
from bench_oidc_flow import _portal_cookie

WORKLOAD = "portal_proxy"
TARGET_RATIO = 0.5  # proxy requests/s over own-session requests/s (issue 17, set here: a grant read and an event)
READ = "/api/portal/notices/unread-count"
PEOPLE = (
    ("鈴木", "スズキ", "一郎", "イチロウ", "1948-11-23"),
    ("高橋", "タカハシ", "健太", "ケンタ", "1992-07-07"),
)


def _birth(family: str, family_kana: str, given: str, given_kana: str, born: str) -> dict[str, Any]:
    return {
        "kind": "birth",
        "family_name": family,
        "given_name": given,
        "family_name_kana": family_kana,
        "given_name_kana": given_kana,
        "birth_date": born,
        "sex": "male",
        "event_date": born,
        "address": {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "5番1号"},
    }


async def _load(base_url: str, cookie: str | None, path: str, clients: int, seconds: float) -> dict[str, Any]:
    samples: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30, limits=limits) as http:
        if cookie:
            http.cookies.set("openmyna_session", cookie, domain="127.0.0.1")
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    answer = await http.get(path)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:200]}")
                except (RuntimeError, httpx.HTTPError) as error:
                    errors.append(str(error)[:200])
                    continue
                samples.append(time.perf_counter() - began)

        mark = cpu_mark()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "done": len(samples),
        "per_s": round(len(samples) / elapsed, 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "latency": latency_summary(samples) if samples else None,
        "busy_cores": cpu_busy_cores_since(mark),
    }


def _browser(base_url: str, cookie: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base_url, trust_env=False, timeout=30)
    client.cookies.set("openmyna_session", cookie, domain="127.0.0.1")
    page = client.get("/portal", headers={"accept": "text/html"})
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text[:300]
    return client, found.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_argument(parser)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    args = parser.parse_args()

    from openmyna.app import migrate
    from openmyna.core.context import open_context
    from openmyna.core.db import unit_of_work
    from openmyna.orgs import service as orgs

    port = free_port()
    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        context = open_context(settings_for(url, var_dir, base_url=f"http://127.0.0.1:{port}"))
        migrate.upgrade(context.engine)
        with unit_of_work(context.session_factory) as session:
            town = orgs.add_organisation(
                session, keys=context.keys, code="131016", name="千代田区", kind="municipality"
            )
        with server(url, var_dir, port, workers=args.workers, access_log=False) as base_url:
            with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as http:
                bearer = {"Authorization": f"Bearer {access_token(http, base_url, '131016', town.private_key_pem)}"}
                ids = []
                for person in PEOPLE:
                    born = http.post("/api/registry/residents", json=_birth(*person), headers=bearer)
                    born.raise_for_status()
                    ids.append(born.json()["id"])
            own_cookie, proxy_cookie = _portal_cookie(context, ids[0]), _portal_cookie(context, ids[1])
            principal, principal_csrf = _browser(base_url, own_cookie)
            proxy, proxy_csrf = _browser(base_url, proxy_cookie)
            try:
                ends_on = (dt.date.today() + dt.timedelta(days=30)).isoformat()
                body = {"family_name": "高橋", "given_name": "健太", "birth_date": "1992-07-07"}
                made = principal.post(
                    "/api/portal/proxy/grants",
                    json={**body, "menus": ["notices"], "ends_on": ends_on},
                    headers={"X-CSRF-Token": principal_csrf},
                )
                assert made.status_code == 201, made.text
                code = made.json()["invitation_code"]
                taken = proxy.post(
                    "/api/portal/proxy/accept", json={"code": code}, headers={"X-CSRF-Token": proxy_csrf}
                )
                assert taken.status_code == 200, taken.text
                switched = proxy.post(
                    f"/api/portal/proxy/switch/{taken.json()['id']}", headers={"X-CSRF-Token": proxy_csrf}
                )
                assert switched.status_code == 200, switched.text
            finally:
                principal.close()
                proxy.close()
            log(f"{args.clients} clients for {args.seconds} s each: own session, acting as proxy, /healthz")
            own = asyncio.run(_load(base_url, own_cookie, READ, args.clients, args.seconds))
            acting = asyncio.run(_load(base_url, proxy_cookie, READ, args.clients, args.seconds))
            trivial = asyncio.run(_load(base_url, None, "/healthz", args.clients, args.seconds))
        context.engine.dispose()
    to_own = round(acting["per_s"] / own["per_s"], 4) if own["per_s"] else None
    to_trivial = round(acting["per_s"] / trivial["per_s"], 4) if trivial["per_s"] else None
    log(f"own {own['per_s']}/s, as proxy {acting['per_s']}/s, /healthz {trivial['per_s']}/s")
    emit(
        {
            "workload": WORKLOAD,
            "database": args.database,
            "headline_ratio_proxy_to_own": to_own,
            "proxy_to_trivial_ratio": to_trivial,
            "own_per_s": own["per_s"],
            "proxy_per_s": acting["per_s"],
            "trivial_per_s": trivial["per_s"],
            "target": {"ratio_min": TARGET_RATIO},
            "ok": acting["errors"] == 0 and own["errors"] == 0 and to_own is not None and to_own >= TARGET_RATIO,
            "own": own,
            "proxy": acting,
            "trivial": trivial,
            "server_workers": args.workers,
            "clients": args.clients,
            "seconds": args.seconds,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
