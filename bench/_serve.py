"""The real server for HTTP benchmarks: ``openmyna serve`` as a subprocess, and organisation tokens.

Not a benchmark itself (``make bench`` runs ``bench/bench_*.py`` only).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from _common import DATA_KEY, log

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(
    url: str,
    var_dir: Path,
    port: int,
    *,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    access_log: bool = True,
) -> Iterator[str]:
    """``openmyna serve`` on ``port`` until the block ends; its output goes to ``var_dir/server.log``."""
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OPENMYNA_DATABASE_URL": url,
        "OPENMYNA_VAR_DIR": str(var_dir),
        "OPENMYNA_DATA_KEY": DATA_KEY,
        "OPENMYNA_BASE_URL": base_url,
        "OPENMYNA_ACCESS_TOKEN_TTL_SECONDS": "3600",
        **(extra_env or {}),
    }
    command = [
        str(Path(sys.executable).parent / "openmyna"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    if not access_log:
        command.append("--no-access-log")
    log_path = var_dir / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=var_dir)
    try:
        deadline = time.monotonic() + 180  # a loaded shared machine starts slowly
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /healthz in 180 s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.2)
        log(f"server up at {base_url} (pid {process.pid}, {workers} worker(s))")
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def access_token(client: httpx.Client, base_url: str, org: str, pem: str | bytes) -> str:
    """Client credentials with a private_key_jwt assertion signed by the organisation's key."""
    from authlib.oauth2.rfc7523 import private_key_jwt_sign
    from joserfc.jwk import ECKey

    endpoint = f"{base_url}/oauth/token"
    assertion = private_key_jwt_sign(ECKey.import_key(pem), org, endpoint, alg="ES256")
    if isinstance(assertion, bytes):
        assertion = assertion.decode()
    response = client.post(
        endpoint,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "client_id": org,
        },
    )
    if response.status_code != 200:
        raise RuntimeError(f"token request failed: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


def timed_gets(client: httpx.Client, paths: Sequence[str], *, headers: dict[str, str], warmup: int = 20) -> list[float]:
    """One keep-alive client's ``GET`` of each path in turn (the first ``warmup`` untimed), every answer a 200:
    the latencies in seconds. The reference requests the HTTP benchmarks measure beside their workload."""
    for path in paths[:warmup]:
        client.get(path, headers=headers).raise_for_status()
    samples = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return samples
