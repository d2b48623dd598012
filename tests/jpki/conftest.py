"""CA fixtures: both authorities committed once per database, RSA keys made once per session, a live server."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from openmyna.app import migrate
from openmyna.app.factory import create_server_app
from openmyna.core.config import Settings
from openmyna.core.context import AppContext, open_context
from openmyna.core.crypto import KeyRing
from openmyna.core.db import make_engine
from openmyna.jpki.authority import CaConfig, ensure_authorities
from openmyna.jpki.profiles import HolderFacts
from tests.conftest import TEST_MASTER_KEY

HOLDER = HolderFacts(
    name="山田 花子",
    sex="female",
    birth_date=dt.date(1985, 4, 5),
    address="東京都千代田区千代田1番1号",
    prefecture="東京都",
    city="千代田区",
)


@pytest.fixture(scope="session")
def ca_config(tmp_path_factory: pytest.TempPathFactory) -> CaConfig:
    return CaConfig(keys=KeyRing(TEST_MASTER_KEY), base_url="http://testserver", key_dir=tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def authorities(engine: Engine, ca_config: CaConfig) -> None:
    """Both CAs, committed once per test database (tests roll back everything else)."""
    with Session(engine) as session:
        ensure_authorities(session, config=ca_config)
        session.commit()


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


def csr_for(key: rsa.RSAPrivateKey) -> bytes:
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.DER)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


LIVE_MAX_AGE = 2


@dataclass(frozen=True)
class Live:
    base_url: str
    context: AppContext
    config: CaConfig


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """uvicorn on a free loopback port over its own SQLite file, as ``openmyna serve`` runs it (the OCSP fast
    path in front); the test commits through ``context``. Cacheable OCSP answers say max-age=2 at most."""
    import base64

    var = tmp_path_factory.mktemp("live")
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{var / 'live.db'}",
        var_dir=var,
        data_key=base64.b64encode(TEST_MASTER_KEY).decode(),
        base_url=f"http://127.0.0.1:{port}",
        ocsp_cache_max_age_seconds=LIVE_MAX_AGE,
    )
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    context = open_context(settings, engine=engine)
    server = uvicorn.Server(
        uvicorn.Config(create_server_app(settings, engine=engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if server.started and httpx.get(f"{settings.base_url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    else:
        raise RuntimeError("live server did not start")
    yield Live(settings.base_url, context, CaConfig.from_settings(settings, context.keys))
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
