"""Staff passwords (argon2), session login, CSRF."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type, profiles
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.errors import InvalidInput, Unauthorized
from openmyna.orgs import service
from tests.orgs.web import csrf_of, log_in


def test_password_is_stored_as_argon2(db: Session, staff) -> None:
    user = service.authenticate_staff(db, username="clerk", password="correct horse")
    assert user.password_hash.startswith("$argon2id$")
    with pytest.raises(Unauthorized):
        service.authenticate_staff(db, username="clerk", password="wrong")
    with pytest.raises(Unauthorized):
        service.authenticate_staff(db, username="nobody", password="wrong")
    with pytest.raises(InvalidInput):
        service.add_staff(db, org_code="131016", username="x", password="short", display_name="x", role="clerk")


def test_production_hashes_with_rfc_9106_low_memory_parameters(production_password_hasher: PasswordHasher) -> None:
    """The suite hashes cheaply (tests/conftest.py); the server keeps argon2id at RFC 9106's low-memory profile."""
    low_memory = profiles.RFC_9106_LOW_MEMORY
    hasher = production_password_hasher
    assert (hasher.type, hasher.time_cost, hasher.memory_cost) == (Type.ID, low_memory.time_cost, 65536)
    assert hasher.hash("correct horse").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_login_and_session_api_access(client: TestClient, staff) -> None:
    response = log_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/residents"
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert client.get("/api/orgs").status_code == 200


def test_wrong_password_shows_the_form_again(client: TestClient, staff) -> None:
    response = log_in(client, password="nope")
    assert response.status_code == 401
    assert "ユーザー名またはパスワードが違います" in response.text


def test_login_without_csrf_token_is_refused(client: TestClient, staff) -> None:
    response = client.post("/staff/login", data={"username": "clerk", "password": "correct horse"})
    assert response.status_code == 403


def test_session_writes_need_the_csrf_header(client: TestClient, staff) -> None:
    log_in(client)
    token = csrf_of(client, "/staff/residents")
    body = {"kind": "birth"}
    without = client.post("/api/registry/residents", json=body)
    assert without.status_code == 403
    with_header = client.post("/api/registry/residents", json=body, headers={"X-CSRF-Token": token})
    assert with_header.status_code == 422  # past authentication and CSRF, stopped by validation


def test_viewer_role_cannot_write(client: TestClient, staff) -> None:
    log_in(client, username="viewer")
    token = csrf_of(client, "/staff/residents")
    response = client.post("/api/registry/residents", json={}, headers={"X-CSRF-Token": token})
    assert response.status_code == 403


def test_open_redirects_are_not_followed(client: TestClient, staff) -> None:
    response = client.post(
        "/staff/login",
        data={"username": "clerk", "password": "correct horse", "csrf": csrf_of(client), "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/staff/residents"


def test_logout_ends_the_session(client: TestClient, staff) -> None:
    log_in(client)
    token = csrf_of(client, "/staff/residents")
    assert client.post("/staff/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/api/orgs").status_code == 401
