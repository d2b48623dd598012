"""The back office as a browser uses it: the CSRF token of a page, the login form, the session cookie."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

COOKIE = "openmyna_session"
PASSWORD = "correct horse"


def csrf_of(client: httpx.Client, path: str = "/staff/login") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(client: TestClient, username: str = "clerk", password: str = PASSWORD) -> httpx.Response:
    return client.post(
        "/staff/login",
        data={"username": username, "password": password, "csrf": csrf_of(client)},
        follow_redirects=False,
    )


def log_out(client: TestClient) -> httpx.Response:
    return client.post("/staff/logout", data={"csrf": csrf_of(client, "/staff/residents")}, follow_redirects=False)


def replaying(client: TestClient, cookie: str) -> TestClient:
    """A second browser that sends a copy of another's session cookie."""
    copy = TestClient(client.app)
    copy.cookies.set(COOKIE, cookie)
    return copy
