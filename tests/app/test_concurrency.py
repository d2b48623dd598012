"""`openmyna serve` under 64 concurrent connections on each database, then SIGTERM.

The landed server deadlocked for good at 16 concurrent requests on SQLite: a request that held the
writer waited for a thread that the queued writers occupied. Here a real server process, with data
made through the CLI and the HTTP API only, gets a mix of writing and reading requests from 64
connections: every answer must be a success, none may time out, the server must still answer
afterwards, and SIGTERM must stop it (exit 0) within its grace period.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, TEST_MASTER_KEY, _worker_database, drop_database
from tests.live import free_port, run_async
from tests.registry.test_api import newborn

CONNECTIONS = 64
LOAD_SECONDS = 4.0
REQUEST_TIMEOUT = 30.0
GRACE_SECONDS = 5.0
OPENMYNA = str(Path(sys.executable).with_name("openmyna"))


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    token: str = ""
    log: Path = field(default_factory=Path)

    def cli(self, *args: str) -> str:
        done = subprocess.run([OPENMYNA, *args], env=self.env, capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return done.stdout.decode()


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log.read_text()[-3000:]
        try:
            if httpx.get(server.base_url + "/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not become healthy:\n" + server.log.read_text()[-3000:])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A fresh database, one organisation (the town), and `openmyna serve` in its own process."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL tests skipped: set OPENMYNA_TEST_DATABASE_URL to run them")
        url = _worker_database(PG_URL, os.environ.get("PYTEST_XDIST_WORKER", "main") + "_live")
        request.addfinalizer(lambda: drop_database(url))
    port = free_port()
    env = {
        **os.environ,
        "OPENMYNA_DATABASE_URL": url,
        "OPENMYNA_DATA_KEY": base64.b64encode(TEST_MASTER_KEY).decode(),
        "OPENMYNA_VAR_DIR": str(tmp_path / "var"),
        "OPENMYNA_BASE_URL": f"http://127.0.0.1:{port}",
        "OPENMYNA_NETWORK_PUBLISH_SECONDS": "0.5",  # the tree-head publisher runs too, and must stop with SIGTERM
        "OPENMYNA_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    log = tmp_path / "serve.log"
    placeholder = Server(f"http://127.0.0.1:{port}", None, env, log=log)  # type: ignore[arg-type]
    placeholder.cli("init")
    placeholder.cli("org", "add", "--code", "131016", "--name", "千代田区", "--kind", "municipality")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [OPENMYNA, "serve", "--port", str(port), "--no-access-log"], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    server = Server(placeholder.base_url, process, env, log=log)
    try:
        _wait_healthy(server)
        key = str(tmp_path / "var" / "keys" / "131016.pem")  # written by `org add`
        server.token = json.loads(server.cli("org", "token", "131016", "--key", key))["access_token"]
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    timeouts: int = 0
    created: int = 0


async def _load(server: Server, resident_ids: list[int]) -> Tally:
    """64 connections, each looping over a mix of writes and reads until the time is up."""
    headers = {"Authorization": f"Bearer {server.token}"}
    tally = Tally()
    deadline = time.monotonic() + LOAD_SECONDS
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)

    async with httpx.AsyncClient(
        base_url=server.base_url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT, trust_env=False
    ) as client:

        async def one(worker: int, step: int) -> None:
            kind = (worker + step) % 6
            if kind == 0:
                name = f"並行{worker}の{step}"
                call = client.post("/api/registry/residents", json=newborn(given_name=name, given_name_kana="ﾍｲｺｳ"))
            elif kind == 1:
                call = client.get("/api/registry/residents", params={"kana": "ﾔﾏﾀﾞ"})
            elif kind == 2:
                call = client.get(f"/api/registry/residents/{resident_ids[step % len(resident_ids)]}")
            elif kind == 3:
                call = client.get("/healthz")
            elif kind == 4:
                call = client.get("/api/card/stats")
            else:
                call = client.get("/")
            started = time.monotonic()
            try:
                response = await call
            except httpx.TimeoutException:
                tally.timeouts += 1
                return
            except httpx.HTTPError as error:
                tally.failures.append(f"{type(error).__name__}: {error}")
                return
            tally.latencies.append(time.monotonic() - started)
            tally.created += response.status_code == 201
            if response.status_code >= 300:
                tally.failures.append(f"{response.request.method} {response.request.url.path}: {response.status_code}")

        async def worker(number: int) -> None:
            step = 0
            while time.monotonic() < deadline:
                await one(number, step)
                step += 1

        await asyncio.gather(*(worker(n) for n in range(CONNECTIONS)))
    return tally


def test_64_connections_then_sigterm(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    resident_ids = []
    for i in range(3):
        created = httpx.post(
            server.base_url + "/api/registry/residents", json=newborn(given_name=f"準備{i}"), headers=headers
        )
        assert created.status_code == 201, created.text
        resident_ids.append(created.json()["id"])

    started = time.monotonic()
    tally = run_async(_load(server, resident_ids))
    elapsed = time.monotonic() - started

    assert tally.timeouts == 0
    assert tally.failures == []
    assert len(tally.latencies) >= CONNECTIONS  # every connection got answers, not just a few
    latencies = sorted(tally.latencies)
    figures = {
        "requests": len(latencies),
        "rate_per_s": round(len(latencies) / elapsed, 1),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1),
    }
    print(json.dumps({"concurrency": CONNECTIONS, **figures}))

    # Still answering, and every registration answered 201 is there: none was lost.
    assert httpx.get(server.base_url + "/healthz", timeout=5, trust_env=False).status_code == 200
    page = httpx.get(server.base_url + "/api/registry/residents", params={"kana": "ﾔﾏﾀﾞ"}, headers=headers, timeout=10)
    assert tally.created > 0
    assert page.status_code == 200 and page.json()["total"] == len(resident_ids) + tally.created

    # SIGTERM while requests are in flight: in-flight work finishes or is cut at the grace period; exit 0.
    async def burst() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=10, trust_env=False) as client:
            calls = [client.get("/api/registry/residents", params={"kana": "ﾔﾏﾀﾞ"}) for _ in range(16)]
            await asyncio.gather(*calls, return_exceptions=True)

    async def stop_during_burst() -> float:
        task = asyncio.create_task(burst())
        await asyncio.sleep(0.05)
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        await task
        while server.process.poll() is None and time.monotonic() - sent < GRACE_SECONDS + 10:
            await asyncio.sleep(0.05)
        return time.monotonic() - sent

    stop_seconds = run_async(stop_during_burst())
    print(json.dumps({"sigterm_to_exit_s": round(stop_seconds, 2)}))
    assert server.process.poll() == 0, server.log.read_text()[-3000:]
    assert stop_seconds < GRACE_SECONDS + 3
