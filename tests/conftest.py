"""Fixtures shared by the suite: every database test runs on SQLite, and on PostgreSQL when configured.

Set ``OPENMYNA_TEST_DATABASE_URL`` to a PostgreSQL database the suite may use (it creates one database
per test worker beside it). With ``OPENMYNA_REQUIRE_POSTGRES=1`` (CI) an unreachable server fails the run.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2 import profiles as argon2_profiles
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from openmyna.app import create_app, migrate
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.db import make_engine, normalise_url
from openmyna.orgs import service as orgs_service
from openmyna.orgs.service import Caller

TEST_MASTER_KEY = bytes(range(32))
PG_URL = os.environ.get("OPENMYNA_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_report_header() -> str:
    if PG_URL:
        return f"PostgreSQL tests: on ({make_url(normalise_url(PG_URL)).render_as_string(hide_password=True)})"
    return "PostgreSQL tests: SKIPPED (set OPENMYNA_TEST_DATABASE_URL to run them)"


def _admin(sql: str, base_url: str) -> None:
    admin = create_engine(make_url(normalise_url(base_url)), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(sql))
    admin.dispose()


def _worker_database(base_url: str, worker: str) -> str:
    """A database of this worker's own beside the configured one, created afresh."""
    url = make_url(normalise_url(base_url))
    name = f"{url.database}_{worker}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', base_url)
    _admin(f'CREATE DATABASE "{name}"', base_url)
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by :func:`_worker_database`."""
    assert PG_URL
    _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)', PG_URL)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    if not PG_URL:
        if os.environ.get("OPENMYNA_REQUIRE_POSTGRES") == "1":
            pytest.fail("OPENMYNA_REQUIRE_POSTGRES=1 but OPENMYNA_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests skipped: set OPENMYNA_TEST_DATABASE_URL to run them")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = _worker_database(PG_URL, worker)
    request.addfinalizer(lambda: drop_database(url))
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def production_password_hasher() -> Iterator[PasswordHasher]:
    """Staff passwords hashed with argon2's cheapest profile in tests; yields the production hasher.

    Staff fixtures hash several passwords per test, and the production cost (RFC 9106's low-memory profile:
    64 MiB, 3 passes, 0.1-0.7 s a hash on 2 cores) added minutes to the suite. Hashes keep their parameters,
    so verification is the same code; ``tests/orgs/test_staff.py`` checks the production parameters.
    """
    production = orgs_service._hasher
    orgs_service._hasher = PasswordHasher.from_parameters(argon2_profiles.CHEAPEST)
    yield production
    orgs_service._hasher = production


@pytest.fixture(autouse=True)
def _wired(keys: KeyRing) -> None:
    """Domain event subscriptions, as the app and CLI make them (re-made per test: some tests clear them)."""
    from openmyna.app.wiring import wire

    wire(keys=keys)


@pytest.fixture(scope="session")
def keys() -> KeyRing:
    return KeyRing(TEST_MASTER_KEY)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        data_key=base64.b64encode(TEST_MASTER_KEY).decode(),
        base_url="http://testserver",
        network_publish_seconds=0,
        notice_worker_threads=0,  # the notice tests run the queue worker themselves, on the test's connection
    )


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection whose outer transaction is rolled back after the test: nothing persists."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        if transaction.is_active:
            transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> FastAPI:
    app = create_app(settings, engine=engine)
    app.state.session_factory = session_factory
    app.state.read_session_factory = session_factory
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def clerk() -> Caller:
    return Caller(
        org_code="131016",
        actor="staff:test-clerk",
        scopes=frozenset({"registry:read", "registry:write"}),
        via="session",
    )


def bearer_for(client: TestClient, code: str, private_pem: bytes, scope: str | None = None) -> dict[str, str]:
    """Run the real client-credentials grant with a private_key_jwt assertion signed by authlib."""
    from authlib.oauth2.rfc7523 import private_key_jwt_sign
    from joserfc.jwk import ECKey

    endpoint = "http://testserver/oauth/token"
    assertion = private_key_jwt_sign(ECKey.import_key(private_pem), code, endpoint, alg="ES256")
    form = {
        "grant_type": "client_credentials",
        "client_assertion": assertion,
        "client_id": code,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    if scope:
        form["scope"] = scope
    response = client.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def town(db: Session, keys: KeyRing):
    """The demo municipality (Chiyoda, 131016) as an organisation with a fresh key pair."""
    from openmyna.orgs import service

    created = service.add_organisation(db, keys=keys, code="131016", name="千代田区", kind="municipality")
    db.commit()
    return created


@pytest.fixture
def town_headers(client: TestClient, town) -> dict[str, str]:
    return bearer_for(client, "131016", town.private_key_pem)
