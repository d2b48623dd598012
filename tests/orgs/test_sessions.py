"""Server-side staff sessions: a copied cookie dies with its session (logout, revocation, password change, timeouts)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.sessions import WebSession
from openmyna.core.timefmt import as_utc
from openmyna.orgs import accounts
from tests.orgs.web import COOKIE, csrf_of, log_in, log_out, replaying

T0 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
IDLE, ABSOLUTE = dt.timedelta(minutes=30), dt.timedelta(hours=8)


def _at(offset: dt.timedelta) -> AbstractContextManager[None]:
    return clock.frozen_at(T0 + offset)


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with clock.frozen_at(T0):
        yield


def _logged_in(client: TestClient) -> str:
    """Log ``client`` in as the clerk; the session cookie it was given."""
    assert log_in(client).status_code == 303
    return client.cookies[COOKIE]


def _opens(client: TestClient) -> bool:
    """Whether the client's cookie opens the back office (page and API)."""
    page = client.get("/staff/residents", follow_redirects=False)
    api = client.get("/api/orgs")
    assert (page.status_code == 200) == (api.status_code == 200), (page.status_code, api.status_code)
    if page.status_code != 200:
        assert page.status_code == 303 and page.headers["location"].startswith("/staff/login")
        assert api.status_code == 401
    return page.status_code == 200


def test_a_copied_cookie_stops_working_after_logout(client: TestClient, staff) -> None:
    cookie = _logged_in(client)
    copy = replaying(client, cookie)
    assert _opens(copy)
    assert log_out(client).status_code == 303
    assert not _opens(replaying(client, cookie))
    assert not _opens(client)


def test_the_cookie_carries_only_a_random_id_stored_hashed(client: TestClient, db: Session, staff) -> None:
    cookie = _logged_in(client)
    payload = json.loads(base64.b64decode(cookie.split(".")[0] + "=="))
    assert set(payload) == {"sid"}
    row = db.scalars(select(WebSession).where(WebSession.subject == "staff:clerk")).one()
    assert row.token_hash == hashlib.sha256(payload["sid"].encode()).digest()
    assert row.subject == "staff:clerk" and row.data["role"] == "clerk"
    assert payload["sid"].encode() not in row.token_hash + row.csrf.encode() + json.dumps(row.data).encode()


def test_an_operator_revokes_one_session_or_all_of_an_account(client: TestClient, db: Session, staff) -> None:
    first, second = client, TestClient(client.app)
    _logged_in(first)
    _logged_in(second)
    sessions = db.scalars(select(WebSession).where(WebSession.subject == "staff:clerk").order_by(WebSession.id)).all()
    assert accounts.revoke_session(db, session_id=sessions[0].id, operator="operator:test") == "staff:clerk"
    db.commit()
    assert not _opens(first) and _opens(second)
    _logged_in(first)
    assert accounts.revoke_all(db, username="clerk", operator="operator:test") == 2
    db.commit()
    assert not _opens(first) and not _opens(second)
    revoked = [e for e in audit.events_for(db, "staff:clerk") if e.action == "session.revoked"]
    assert len(revoked) == 2 and {e.actor for e in revoked} == {"operator:test"}


def test_a_password_change_ends_every_session_of_the_account(client: TestClient, db: Session, staff) -> None:
    other = TestClient(client.app)
    _logged_in(client)
    _logged_in(other)
    viewer = TestClient(client.app)
    assert log_in(viewer, "viewer").status_code == 303
    assert accounts.change_password(db, username="clerk", password="battery staple", operator="operator:test") == 2
    db.commit()
    assert not _opens(client) and not _opens(other)
    assert viewer.get("/api/orgs").status_code == 200  # another account's session lives on
    assert log_in(client).status_code == 401
    assert log_in(client, password="battery staple").status_code == 303


def test_an_idle_session_ends_and_a_busy_one_lives_on(client: TestClient, staff) -> None:
    _logged_in(client)
    for minutes in (20, 40, 60):  # each request well within the idle timeout of the one before
        with _at(dt.timedelta(minutes=minutes)):
            assert _opens(client)
    with _at(dt.timedelta(minutes=60) + IDLE + dt.timedelta(seconds=1)):
        assert not _opens(client)


def test_a_session_ends_at_the_absolute_timeout_however_busy(client: TestClient, staff) -> None:
    _logged_in(client)
    for minutes in range(20, 8 * 60, 20):
        with _at(dt.timedelta(minutes=minutes)):
            assert _opens(client)
    with _at(ABSOLUTE):
        assert not _opens(client)


def test_last_seen_is_written_at_most_once_a_minute(client: TestClient, db: Session, staff) -> None:
    _logged_in(client)

    def last_seen() -> dt.datetime:
        db.expire_all()
        return as_utc(db.scalars(select(WebSession.last_seen_at)).one())

    with _at(dt.timedelta(seconds=59)):
        client.get("/api/orgs")
    assert last_seen() == T0
    with _at(dt.timedelta(seconds=61)):
        client.get("/api/orgs")
    assert last_seen() == T0 + dt.timedelta(seconds=61)


def test_the_csrf_token_is_bound_to_the_server_session(client: TestClient, staff) -> None:
    before = csrf_of(client)
    _logged_in(client)
    token = csrf_of(client, "/staff/residents")
    assert token != before
    write = {"kind": "birth"}
    assert client.post("/api/registry/residents", json=write, headers={"X-CSRF-Token": before}).status_code == 403
    assert client.post("/api/registry/residents", json=write, headers={"X-CSRF-Token": token}).status_code == 422
    log_out(client)
    _logged_in(client)
    assert client.post("/api/registry/residents", json=write, headers={"X-CSRF-Token": token}).status_code == 403


def test_logout_needs_the_sessions_csrf_token(client: TestClient, staff) -> None:
    _logged_in(client)
    forged = client.post("/staff/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert _opens(client)


def test_logging_in_again_ends_the_previous_session(client: TestClient, db: Session, staff) -> None:
    first = _logged_in(client)
    _logged_in(client)
    assert not _opens(replaying(client, first))
    assert len(db.scalars(select(WebSession)).all()) == 1
