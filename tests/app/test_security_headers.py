"""Security headers on pages, APIs, errors and static files; HSTS and Secure cookies only over https."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openmyna.app import create_app
from openmyna.core.config import Settings

RESPONSES = {
    "page": ("GET", "/", 200),
    "login page": ("GET", "/staff/login", 200),
    "api": ("GET", "/api/orgs/131016", 200),
    "not found": ("GET", "/api/orgs/no-such-org", 404),
    "unauthorised": ("GET", "/api/orgs", 401),
    "invalid": ("POST", "/api/numbers/check", 422),
    "static": ("GET", "/static/site.css", 200),
}


def _directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


def _assert_secured(response: httpx.Response) -> None:
    policy = _directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("kind", RESPONSES)
def test_every_kind_of_response_carries_the_headers(client: TestClient, town, kind: str) -> None:
    method, path, status = RESPONSES[kind]
    response = client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == status
    _assert_secured(response)
    assert "strict-transport-security" not in response.headers
    assert "secure" not in response.headers.get("set-cookie", "").lower()


@pytest.fixture
def https_client(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    app: FastAPI = create_app(settings.model_copy(update={"base_url": "https://myna.example"}), engine=engine)
    app.state.session_factory = app.state.read_session_factory = session_factory
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def test_over_https_hsts_is_sent_and_every_cookie_is_secure(https_client: TestClient) -> None:
    page = https_client.get("/staff/login?lang=en")
    _assert_secured(page)
    assert page.headers["strict-transport-security"] == "max-age=31536000"
    cookies = page.headers.get_list("set-cookie")
    assert {cookie.split("=")[0] for cookie in cookies} == {"openmyna_session", "lang"}
    assert all("; secure" in cookie.lower() for cookie in cookies)
    assert https_client.get("/api/orgs").headers["strict-transport-security"] == "max-age=31536000"


def test_swagger_ui_admits_exactly_its_own_inline_script(client: TestClient) -> None:
    docs = client.get("/docs")
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    policy = _directives(docs)
    assert policy["script-src"] == ["https://cdn.jsdelivr.net", f"'sha256-{digest}'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert int(docs.headers["content-length"]) == len(docs.content)


def test_redoc_gets_the_documentation_policy_without_inline_scripts(client: TestClient) -> None:
    policy = _directives(client.get("/redoc"))
    assert policy["script-src"] == ["https://cdn.jsdelivr.net"]
    assert policy["worker-src"] == ["blob:"]
