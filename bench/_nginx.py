"""Debian's nginx as the RFC 5019 OCSP cache of ``deploy/nginx/openmyna-ocsp-cache.conf``, for benchmarks.

Not a benchmark itself (``make bench`` runs ``bench/bench_*.py`` only).
"""

from __future__ import annotations

import contextlib
import getpass
import shutil
import socket
import string
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from _common import log

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "openmyna-ocsp-cache.conf"


@contextlib.contextmanager
def cache_proxy(upstream: str, port: int, prefix: Path, *, workers: int) -> Iterator[str]:
    """nginx with the shipped configuration on ``port`` in front of ``upstream`` until the block ends."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is needed (make nginx, or apt-get install nginx)")
    prefix.mkdir(parents=True, exist_ok=True)
    values = {
        "USER": getpass.getuser(),
        "WORKERS": str(workers),
        "PREFIX": str(prefix),
        "CACHE_DIR": str(prefix / "cache"),
        "LISTEN": f"127.0.0.1:{port}",
        "UPSTREAM": upstream,
    }
    config = prefix / "nginx.conf"
    rendered = string.Template(CONFIG.read_text()).safe_substitute(values)  # nginx's own $variables stay
    assert "${" not in rendered, "a value of the configuration was not filled in"
    config.write_text(rendered)
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                error_log = prefix / "error.log"
                raise RuntimeError(f"nginx did not start: {error_log.read_text() if error_log.exists() else ''}")
            time.sleep(0.05)
        log(f"nginx caching proxy at 127.0.0.1:{port} ({workers} workers) in front of {upstream}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
