"""private_key_jwt against the live server with clients nobody here wrote: authlib, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from openmyna.core.db import unit_of_work
from openmyna.orgs import service

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SEARCH = "/api/registry/residents"
PROBLEM_JSON = "application/problem+json"


def custodial_key(server: LiveServer, code: str) -> bytes:
    """The PEM private key the platform holds for a demo organisation."""
    with unit_of_work(server.context.session_factory) as session:
        return service.custodial_private_key(server.context.keys, service.get_organisation(session, code))


def fetch_token(server: LiveServer, code: str, private_pem: bytes, scope: str | None = None) -> dict[str, Any]:
    """Client credentials with a private_key_jwt assertion, signed and sent by authlib."""
    endpoint = server.settings.token_endpoint
    client = OAuth2Client(
        client_id=code,
        client_secret=ECKey.import_key(private_pem),
        token_endpoint_auth_method=PrivateKeyJWT(endpoint, alg="ES256"),
        trust_env=False,
        timeout=10,
    )
    with client:
        return dict(client.fetch_token(endpoint, grant_type="client_credentials", scope=scope))


def search(server: LiveServer, access_token: str, **params: str) -> httpx.Response:
    """GET the registry search with a bearer token, over plain httpx."""
    with httpx.Client(trust_env=False, timeout=10) as http:
        return http.get(server.url(SEARCH), params=params, headers={"Authorization": f"Bearer {access_token}"})


def test_municipality_token_from_authlib_reads_the_registry(live_server: LiveServer) -> None:
    token = fetch_token(live_server, "131016", custodial_key(live_server, "131016"))
    assert token["token_type"].lower() == "bearer"
    assert {"registry:read", "registry:write"} <= set(token["scope"].split())
    assert 0 < token["expires_in"] <= live_server.settings.access_token_ttl_seconds

    response = search(live_server, token["access_token"], kana="ヤマダ")
    assert response.status_code == 200, response.text
    page = response.json()
    names = {item["display_name"] for item in page["items"]}
    assert page["total"] >= 4 and {"山田 太郎", "山田 花子（佐藤）"} <= names
    assert all(item["family_name_kana"].startswith("ヤマダ") for item in page["items"])
    hanako = next(item for item in page["items"] if item["display_name"] == "山田 花子（佐藤）")
    assert hanako["id"] == live_server.persona("parent").resident_id
    assert hanako["my_number"] == live_server.persona("parent").my_number_masked

    half_width = search(live_server, token["access_token"], kana="ﾔﾏﾀﾞﾊﾅｺ").json()
    assert [item["id"] for item in half_width["items"]] == [hanako["id"]]


def test_platform_operator_may_read(live_server: LiveServer) -> None:
    token = fetch_token(live_server, "jlis", custodial_key(live_server, "jlis"))
    assert "registry:read" in token["scope"].split() and "registry:write" not in token["scope"].split()
    assert search(live_server, token["access_token"], kana="ヤマダ").status_code == 200


def test_ministry_token_without_registry_scope_is_refused_as_problem_json(live_server: LiveServer) -> None:
    token = fetch_token(live_server, "mhlw", custodial_key(live_server, "mhlw"))
    assert "registry:read" not in token.get("scope", "").split()
    response = search(live_server, token["access_token"], kana="ヤマダ")
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 403 and problem["type"].endswith("/forbidden")
    assert problem["required_scope"] == "registry:read"


def test_ministry_cannot_ask_for_a_scope_it_does_not_hold(live_server: LiveServer) -> None:
    with pytest.raises(OAuthError) as refused:
        fetch_token(live_server, "mhlw", custodial_key(live_server, "mhlw"), scope="registry:read")
    assert refused.value.error == "invalid_scope"


def test_assertion_signed_by_a_key_the_platform_does_not_know_is_refused(live_server: LiveServer) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(OAuthError) as refused:
        fetch_token(live_server, "131016", stranger)
    assert refused.value.error == "invalid_client"


def test_cli_fetches_a_token_that_the_api_accepts(live_server: LiveServer) -> None:
    settings = live_server.settings
    assert settings.data_key is not None
    env = {
        **os.environ,
        "OPENMYNA_DATABASE_URL": settings.database_url,
        "OPENMYNA_VAR_DIR": str(settings.var_dir),
        "OPENMYNA_DATA_KEY": settings.data_key.get_secret_value(),
        "OPENMYNA_BASE_URL": settings.base_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "COLUMNS": "80",
    }
    cli = Path(sys.executable).with_name("openmyna")
    result = subprocess.run(
        [str(cli), "org", "token", "131016", "--url", settings.token_endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    token = json.loads(result.stdout)
    assert token["access_token"] and token["token_type"].lower() == "bearer"
    assert search(live_server, token["access_token"], kana="ヤマダ").status_code == 200
