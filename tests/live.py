"""Real servers for tests: openmyna under uvicorn on a free loopback port, in a daemon thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import uvicorn

from openmyna.app import create_app
from openmyna.core.config import Settings

T = TypeVar("T")

STARTUP_TIMEOUT_SECONDS = 15.0


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: a worker that ran Playwright's sync API has a loop running already."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(base_url: str, server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the live server thread stopped during start-up")
        if server.started:
            try:
                if httpx.get(base_url + "/healthz", timeout=2, trust_env=False).json() == {"status": "ok"}:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"the live server did not answer {base_url}/healthz within {STARTUP_TIMEOUT_SECONDS}s")


@contextmanager
def running(settings: Settings, port: int) -> Iterator[str]:
    """Serve ``create_app(settings)`` on ``port`` until the block ends; yields the base URL."""
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app=app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"openmyna-{port}", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, server, thread)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
