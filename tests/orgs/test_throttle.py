"""Password logins are throttled per account and per client address, with a lockout staff can lift."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.app import migrate
from openmyna.core import audit, clock, throttle
from openmyna.core.config import Settings
from openmyna.core.context import AppContext, open_context
from openmyna.core.db import unit_of_work
from openmyna.orgs import accounts, service
from tests.conftest import PG_URL, TEST_MASTER_KEY, _worker_database, drop_database
from tests.live import free_port, running
from tests.orgs.web import PASSWORD, csrf_of, log_in

ACCOUNT_LIMIT, ADDRESS_LIMIT, LOCKOUT = 3, 5, 900
ERROR = re.compile(r'<p class="error".*?</p>')
T0 = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "login_account_failures": ACCOUNT_LIMIT,
            "login_address_failures": ADDRESS_LIMIT,
            "login_failure_window_seconds": 600,
            "login_lockout_seconds": LOCKOUT,
        }
    )


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with clock.frozen_at(T0):
        yield


def _fail(client: TestClient, username: str = "clerk", times: int = 1) -> list[int]:
    return [log_in(client, username, "wrong password").status_code for _ in range(times)]


def test_the_account_locks_after_its_limit_and_the_right_password_is_refused(client: TestClient, staff) -> None:
    assert _fail(client, times=ACCOUNT_LIMIT) == [401] * (ACCOUNT_LIMIT - 1) + [429]
    refused = log_in(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(LOCKOUT)
    assert "しばらくログインできません" in refused.text
    assert client.get("/api/orgs").status_code == 401  # no session was started


def test_the_locked_page_is_in_english_too(client: TestClient, staff) -> None:
    _fail(client, times=ACCOUNT_LIMIT)
    client.get("/staff/login?lang=en")
    assert "Too many failed logins" in log_in(client).text


def test_retry_after_counts_down_and_the_lockout_ends(client: TestClient, staff) -> None:
    _fail(client, times=ACCOUNT_LIMIT)
    with clock.frozen_at(T0 + dt.timedelta(seconds=LOCKOUT - 100)):
        assert log_in(client).headers["retry-after"] == "100"
    with clock.frozen_at(T0 + dt.timedelta(seconds=LOCKOUT + 1)):
        assert log_in(client).status_code == 303


def test_an_unknown_account_is_locked_alike(client: TestClient, staff) -> None:
    """Same statuses, message and Retry-After: a lockout does not tell whether the account exists."""
    other = TestClient(client.app, client=("192.0.2.8", 50000))  # its own address budget
    known = [*_fail(client, "clerk", ACCOUNT_LIMIT), log_in(client, "clerk").status_code]
    unknown = [*_fail(other, "nobody", ACCOUNT_LIMIT), log_in(other, "nobody").status_code]
    assert known == unknown == [401, 401, 429, 429]
    answers = [log_in(client, "clerk"), log_in(other, "nobody")]
    assert {a.headers["retry-after"] for a in answers} == {str(LOCKOUT)}
    assert len({ERROR.search(a.text).group(0) for a in answers}) == 1


def test_failures_outside_the_window_do_not_add_up(client: TestClient, staff) -> None:
    _fail(client, times=ACCOUNT_LIMIT - 1)
    with clock.frozen_at(T0 + dt.timedelta(seconds=601)):
        assert _fail(client, times=ACCOUNT_LIMIT - 1) == [401] * (ACCOUNT_LIMIT - 1)
        assert log_in(client).status_code == 303


def test_a_success_clears_the_account_failures(client: TestClient, staff) -> None:
    _fail(client, times=ACCOUNT_LIMIT - 1)
    assert log_in(client).status_code == 303
    assert _fail(client, times=ACCOUNT_LIMIT - 1) == [401] * (ACCOUNT_LIMIT - 1)


def test_staff_can_lift_a_lockout(client: TestClient, db: Session, staff) -> None:
    _fail(client, times=ACCOUNT_LIMIT)
    assert [key for key, _ in throttle.locked_keys(db)] == ["staff:clerk"]
    assert accounts.unlock(db, username="clerk", operator="operator:test") is True
    db.commit()
    assert throttle.locked_keys(db) == []
    assert log_in(client).status_code == 303
    assert accounts.unlock(db, username="clerk", operator="operator:test") is False


def test_an_address_is_locked_after_failures_across_accounts(client: TestClient, db: Session, staff) -> None:
    names = [f"guess{i}" for i in range(ADDRESS_LIMIT)]
    statuses = [_fail(client, name)[0] for name in names]
    assert statuses == [401] * (ADDRESS_LIMIT - 1) + [429]
    assert log_in(client, "viewer").status_code == 429  # an account this address never tried
    elsewhere = TestClient(client.app, client=("192.0.2.7", 50000))
    assert log_in(elsewhere, "viewer").status_code == 303
    accounts.unlock(db, address="testclient", operator="operator:test")
    db.commit()
    assert log_in(client, "viewer").status_code == 303


def test_one_good_password_does_not_reset_the_address(client: TestClient, staff) -> None:
    _fail(client, "guess-a", ACCOUNT_LIMIT - 1)
    _fail(client, "guess-b", ACCOUNT_LIMIT - 1)
    assert log_in(client, "viewer").status_code == 303
    assert _fail(client, "guess-c") == [429]  # the fifth failure from this address


def test_every_attempt_and_lockout_is_an_audit_event(client: TestClient, db: Session, staff) -> None:
    log_in(client)
    _fail(client, times=ACCOUNT_LIMIT)
    log_in(client)
    accounts.unlock(db, username="clerk", operator="operator:test")
    db.commit()
    events = list(reversed(audit.events_for(db, "staff:clerk")))
    assert [e.action for e in events] == [
        "login.succeeded",
        "login.failed",
        "login.failed",
        "login.failed",
        "login.locked",
        "login.refused",
        "login.unlocked",
    ]
    assert {e.actor for e in events[1:6]} == {"address:testclient"}
    assert {e.actor_org for e in events} == {"131016"}
    assert events[-1].actor == "operator:test"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, AppContext]]:
    """A real server (uvicorn and its thread pool) over a database of its own with the town's clerk."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL tests skipped: set OPENMYNA_TEST_DATABASE_URL to run them")
        url = _worker_database(PG_URL, os.environ.get("PYTEST_XDIST_WORKER", "main") + "_throttle")
        request.addfinalizer(lambda: drop_database(url))
    port = free_port()
    settings = Settings(
        database_url=url,
        var_dir=tmp_path / "var",
        data_key=base64.b64encode(TEST_MASTER_KEY).decode(),
        base_url=f"http://127.0.0.1:{port}",
        network_publish_seconds=0,
        login_account_failures=ACCOUNT_LIMIT,
    )
    context = open_context(settings)
    migrate.upgrade(context.engine)
    with unit_of_work(context.session_factory) as session:
        service.add_organisation(session, keys=context.keys, code="131016", name="千代田区", kind="municipality")
        service.add_staff(
            session, org_code="131016", username="clerk", password=PASSWORD, display_name="窓口", role="clerk"
        )
    try:
        with running(settings, port) as base_url:
            yield base_url, context
    finally:
        context.engine.dispose()


def test_parallel_guesses_never_exceed_the_account_limit(live: tuple[str, AppContext]) -> None:
    """Eight browsers guess at once: no more passwords are checked than the limit admits."""
    base_url, context = live
    guessers = [httpx.Client(base_url=base_url, trust_env=False, timeout=60) for _ in range(8)]
    tokens = [csrf_of(guesser) for guesser in guessers]
    start = threading.Barrier(len(guessers))

    def guess(guesser: httpx.Client, token: str, password: str = "wrong password") -> int:
        return guesser.post("/staff/login", data={"username": "clerk", "password": password, "csrf": token}).status_code

    def at_once(guesser: httpx.Client, token: str) -> int:
        start.wait()
        return guess(guesser, token)

    with ThreadPoolExecutor(len(guessers)) as pool:
        statuses = sorted(pool.map(at_once, guessers, tokens))
    assert statuses == [401] * (ACCOUNT_LIMIT - 1) + [429] * (len(guessers) - ACCOUNT_LIMIT + 1)
    assert guess(guessers[0], tokens[0], PASSWORD) == 429
    for guesser in guessers:
        guesser.close()
    with unit_of_work(context.session_factory) as session:
        actions = [event.action for event in audit.events_for(session, "staff:clerk")]
    assert actions.count("login.failed") == ACCOUNT_LIMIT
    assert actions.count("login.refused") == len(guessers) - ACCOUNT_LIMIT + 1
