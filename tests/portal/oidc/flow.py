"""Driving the provider's authorization endpoint as a browser would, for the in-process (TestClient) tests."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient

REDIRECT_URI = "https://rp.example/cb"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class AuthRequest:
    """One authorization request's parameters and the secrets the relying party keeps."""

    client_id: str
    redirect_uri: str = REDIRECT_URI
    scope: str = "openid profile"
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    def params(self, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge_of(self.verifier),
            "code_challenge_method": "S256",
            **overrides,
        }
        return {name: value for name, value in params.items() if value is not None}


def query_of(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def authorize(client: TestClient, request: AuthRequest, **overrides: str | None) -> httpx.Response:
    return client.get(
        "/oidc/authorize", params=request.params(**overrides), headers={"accept": "text/html"}, follow_redirects=False
    )


def consent(
    client: TestClient, page: httpx.Response, decision: str = "allow", csrf: str | None = None
) -> httpx.Response:
    """Answer the consent page the way its form does (POST to the same URL with the CSRF token)."""
    assert page.status_code == 200, page.text
    assert 'id="consent-allow"' in page.text
    token = CSRF.search(page.text)
    assert token is not None
    return client.post(
        str(page.url),
        data={"csrf": token.group(1) if csrf is None else csrf, "decision": decision},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )


def code_for(client: TestClient, request: AuthRequest) -> str:
    """Authorize and consent (or reuse the remembered consent); the code the redirect carries."""
    response = authorize(client, request)
    if response.status_code == 200:
        response = consent(client, response)
    assert response.status_code in (302, 303), response.text
    assert response.headers["location"].startswith(request.redirect_uri + "?")
    query = query_of(response)
    assert query["state"] == request.state
    assert query["iss"] == "http://testserver"  # RFC 9207: the answer names its issuer
    return query["code"]


def redeem(
    client: TestClient, request: AuthRequest, code: str, secret: str, *, basic: bool = True, verifier: str | None = None
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "code_verifier": verifier or request.verifier,
    }
    if basic:
        return client.post("/oidc/token", data=form, auth=(request.client_id, secret))
    return client.post("/oidc/token", data={**form, "client_id": request.client_id, "client_secret": secret})
