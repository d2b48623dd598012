"""OpenID Connect code flows per second for an already-logged-in resident with remembered consent.

One flow is what a linked site and the resident's browser send: GET /oidc/authorize (PKCE S256, nonce; the
consent is remembered, so the answer is the redirect with a code), POST /oidc/token (client_secret_basic;
the code is spent, the access token stored, an access event written) and GET /oidc/userinfo (the registry
read through its service, another access event). ``openmyna serve`` runs on loopback; the same client then
loads the same server's trivial endpoint (``/healthz``) for as long, and the headline is the ratio of the
two rates, which travels between machines better than either figure. Target (issue 17): a ratio of at least
0.25 (a flow of 3 requests costs at most 4 trivial ones); the first target, 200 flows/s on 2 cores, beside.

    .venv/bin/python bench/bench_oidc_flow.py [--database sqlite|postgresql] [--seconds 10] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

WORKLOAD = "oidc_flow"
TARGET = 200
TARGET_RATIO = 0.25  # flows/s over /healthz/s: a flow (3 requests) costs at most 4 trivial requests
REDIRECT_URI = "https://bench-rp.example/cb"
BIRTH = {
    "kind": "birth",
    "family_name": "山田",
    "given_name": "太郎",
    "family_name_kana": "ヤマダ",
    "given_name_kana": "タロウ",
    "birth_date": "1990-04-01",
    "sex": "male",
    "event_date": "1990-04-01",
    "address": {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "5番1号"},
}


def _authorize_params(client_id: str) -> tuple[dict[str, str], str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile address",
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return params, verifier


async def _flow(browser: httpx.AsyncClient, http: httpx.AsyncClient, client_id: str, secret: str) -> None:
    """The resident's browser (with the portal cookie) authorizes; the linked site's server (without) does the rest."""
    params, verifier = _authorize_params(client_id)
    answer = await browser.get("/oidc/authorize", params=params, headers={"accept": "text/html"})
    if answer.status_code != 302:
        raise RuntimeError(f"authorize answered {answer.status_code}: {answer.text[:300]}")
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    token = await http.post("/oidc/token", data=form, auth=(client_id, secret))
    if token.status_code != 200:
        raise RuntimeError(f"token answered {token.status_code}: {token.text[:300]}")
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    info = await http.get("/oidc/userinfo", headers=bearer)
    if info.status_code != 200 or "name" not in info.json():
        raise RuntimeError(f"userinfo answered {info.status_code}: {info.text[:300]}")


async def _healthz(browser: httpx.AsyncClient, http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    if response.status_code != 200:
        raise RuntimeError(f"/healthz answered {response.status_code}")


async def _load(base_url: str, cookie: str, clients: int, seconds: float, step: Any) -> dict[str, Any]:
    """``clients`` keep-alive clients repeating ``step`` for ``seconds``; rate, latencies and errors."""
    samples: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    browser = httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30, limits=limits)
    browser.cookies.set("openmyna_session", cookie, domain="127.0.0.1")
    async with browser, httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30, limits=limits) as http:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    await step(browser, http)
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


def _portal_cookie(context: Any, resident_id: int) -> str:
    """A logged-in resident's signed session cookie (the session a card or QR login begins)."""
    from itsdangerous import TimestampSigner

    from openmyna.core import sessions
    from openmyna.core.db import unit_of_work
    from openmyna.portal.auth import service as portal_auth
    from openmyna.registry import service as registry
    from openmyna.registry.models import Resident

    with unit_of_work(context.session_factory) as session:
        resident = session.get(Resident, resident_id)
        token = portal_auth.begin(
            session,
            resident_id=resident_id,
            subject=registry.subject_of(resident),
            method="card",
            address="127.0.0.1",
            timeouts=sessions.Timeouts.from_settings(context.settings),
        )
    payload = base64.b64encode(json.dumps({sessions.COOKIE_KEY: token}).encode())
    return TimestampSigner(context.keys.session_secret).sign(payload).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_argument(parser)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2, the target's cores)")
    args = parser.parse_args()

    from openmyna.app import migrate
    from openmyna.core.context import open_context
    from openmyna.core.db import unit_of_work
    from openmyna.orgs import service as orgs
    from openmyna.portal.oidc import service as oidc

    port = free_port()
    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        context = open_context(settings_for(url, var_dir, base_url=f"http://127.0.0.1:{port}"))
        migrate.upgrade(context.engine)
        with unit_of_work(context.session_factory) as session:
            town = orgs.add_organisation(
                session, keys=context.keys, code="131016", name="千代田区", kind="municipality"
            )
            site = oidc.register_relying_party(
                session, keys=context.keys, name="ベンチ銀行", redirect_uris=[REDIRECT_URI]
            )
        with server(url, var_dir, port, workers=args.workers, access_log=False) as base_url:
            with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as http:
                bearer = {"Authorization": f"Bearer {access_token(http, base_url, '131016', town.private_key_pem)}"}
                born = http.post("/api/registry/residents", json=BIRTH, headers=bearer)
                born.raise_for_status()
                cookie = _portal_cookie(context, born.json()["id"])
                http.cookies.set("openmyna_session", cookie, domain="127.0.0.1")
                params, _ = _authorize_params(site.client_id)
                page = http.get("/oidc/authorize", params=params, headers={"accept": "text/html"})
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
                assert page.status_code == 200 and csrf, page.text[:500]
                allowed = http.post(str(page.url), data={"csrf": csrf.group(1), "decision": "allow"})
                assert allowed.status_code == 303, allowed.text[:500]
            log(f"consent remembered; {args.clients} clients for {args.seconds} s of flows, then of /healthz")

            async def flow(browser: httpx.AsyncClient, http: httpx.AsyncClient) -> None:
                await _flow(browser, http, site.client_id, site.client_secret)

            flows = asyncio.run(_load(base_url, cookie, args.clients, args.seconds, flow))
            trivial = asyncio.run(_load(base_url, cookie, args.clients, args.seconds, _healthz))
        context.engine.dispose()
    ratio = round(flows["per_s"] / trivial["per_s"], 4) if trivial["per_s"] else None
    log(f"{flows['per_s']} flows/s, {trivial['per_s']} /healthz/s: ratio {ratio}")
    emit(
        {
            "workload": WORKLOAD,
            "database": args.database,
            "headline_ratio_flows_to_trivial": ratio,
            "flows_per_s": flows["per_s"],
            "trivial_per_s": trivial["per_s"],
            "target": {"ratio_min": TARGET_RATIO, "flows_per_s": TARGET},
            "within_absolute_target": flows["per_s"] >= TARGET,
            "ok": ratio is not None and ratio >= TARGET_RATIO and flows["errors"] == 0,
            "flows": flows,
            "trivial": trivial,
            "requests_per_flow": 3,
            "server_workers": args.workers,
            "clients": args.clients,
            "seconds": args.seconds,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
