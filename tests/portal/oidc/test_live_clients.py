"""The provider on a real server, driven by relying-party libraries nobody here wrote (both databases).

authlib's httpx client in Python (client_secret_basic) and panva's openid-client v6 run by node
(client_secret_post): discovery → authorize with PKCE S256 and a nonce → the logged-in resident's consent →
token → id_token validation → userinfo → RP-initiated logout.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from openmyna.app import migrate
from openmyna.core.config import Settings
from openmyna.core.context import AppContext, open_context
from openmyna.core.db import unit_of_work
from openmyna.orgs import service as orgs
from tests.conftest import PG_URL, TEST_MASTER_KEY, _worker_database, drop_database
from tests.live import free_port, running
from tests.portal.oidc.conftest import BIRTH
from tests.portal.oidc.live import Site, add_site, browser, environment, portal_cookie

ROOT = Path(__file__).resolve().parents[3]
NODE_SCRIPT = Path(__file__).with_name("openid_client_flow.mjs")
CSRF_FIELD = 'name="csrf" value="'


class Live:
    def __init__(self, base_url: str, context: AppContext, resident_id: int) -> None:
        self.base_url = base_url
        self.context = context
        self.resident_id = resident_id


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("oidc-live")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'live.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL tests skipped: set OPENMYNA_TEST_DATABASE_URL to run them")
        url = _worker_database(PG_URL, os.environ.get("PYTEST_XDIST_WORKER", "main") + "_oidc")
        request.addfinalizer(lambda: drop_database(url))
    port = free_port()
    settings = Settings(
        database_url=url,
        var_dir=root / "var",
        data_key=base64.b64encode(TEST_MASTER_KEY).decode(),
        base_url=f"http://127.0.0.1:{port}",
        network_publish_seconds=0,
    )
    context = open_context(settings)
    migrate.upgrade(context.engine)
    with unit_of_work(context.session_factory) as session:
        town = orgs.add_organisation(session, keys=context.keys, code="131016", name="千代田区", kind="municipality")
    try:
        with running(settings, port) as base_url:
            with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as http:
                headers = _town_token(http, base_url, town.private_key_pem)
                born = http.post("/api/registry/residents", json=BIRTH, headers=headers)
                assert born.status_code == 201, born.text
            yield Live(base_url, context, int(born.json()["id"]))
    finally:
        context.engine.dispose()


def _town_token(http: httpx.Client, base_url: str, private_pem: bytes) -> dict[str, str]:
    """The town's access token by client credentials with a private_key_jwt assertion signed by authlib."""
    endpoint = base_url + "/oauth/token"
    assertion = private_key_jwt_sign(ECKey.import_key(private_pem), "131016", endpoint, alg="ES256")
    form = {
        "grant_type": "client_credentials",
        "client_id": "131016",
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    response = http.post(endpoint, data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _consent(resident: httpx.Client, url: str) -> str:
    """The resident opens the authorization URL, sees the consent page and presses #consent-allow."""
    page = resident.get(url)
    assert page.status_code == 200, page.text
    assert 'id="consent-allow"' in page.text
    csrf = page.text.split(CSRF_FIELD)[1].split('"')[0]
    answer = resident.post(url, data={"csrf": csrf, "decision": "allow"})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_authlib_client_through_discovery_consent_token_id_token_userinfo_and_logout(live: Live) -> None:
    site = add_site(
        live.context.settings, "authlib の店", "http://127.0.0.1:9/authlib/cb", "http://127.0.0.1:9/authlib/"
    )
    with httpx.Client(trust_env=False, timeout=30) as http:
        metadata = http.get(live.base_url + "/.well-known/openid-configuration").json()
        jwks = KeySet.import_key_set(http.get(metadata["jwks_uri"]).json())
    assert metadata["issuer"] == live.base_url
    rp = OAuth2Client(
        client_id=site.client_id,
        client_secret=site.client_secret,
        scope="openid profile birthdate",
        redirect_uri=site.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        trust_env=False,
        timeout=30,
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = rp.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    with browser(live.base_url, portal_cookie(live.context, live.resident_id)) as resident:
        callback = _consent(resident, url)
        token = rp.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)

        decoded = jwt.decode(token["id_token"], jwks, algorithms=metadata["id_token_signing_alg_values_supported"])
        options = {"iss": {"essential": True, "value": metadata["issuer"]}}
        params = {"nonce": nonce, "client_id": site.client_id, "access_token": token["access_token"]}
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)
        claims.validate(leeway=5)
        assert decoded.header["alg"] == "ES256" and decoded.header["kid"] == jwks.keys[0].kid

        info = rp.get(metadata["userinfo_endpoint"]).json()
        assert info["sub"] == claims["sub"]
        assert info["birthdate"] == "2024-04-01" and info["family_name"] == "山田"
        assert "address" not in info and "gender" not in info

        logout = resident.get(
            metadata["end_session_endpoint"],
            params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": site.post_logout_redirect_uri},
        )
        assert logout.status_code == 303 and logout.headers["location"] == site.post_logout_redirect_uri
        again, _ = rp.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=generate_token(48), nonce=generate_token(20)
        )
        assert resident.get(again).headers["location"].startswith("/portal/login?next=")
    assert state


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "openid-client").exists():
        pytest.skip("needs node and `make node-tools` (openid-client in ./node_modules)")
    return node


def test_openid_client_v6_through_the_whole_flow(live: Live) -> None:
    node = _node()
    site: Site = add_site(
        live.context.settings, "openid-client の店", "http://127.0.0.1:9/js/cb", "http://127.0.0.1:9/js/"
    )
    cookie = portal_cookie(live.context, live.resident_id)
    arguments = [live.base_url, site.client_id, site.client_secret, site.redirect_uri, site.post_logout_redirect_uri]
    done = subprocess.run(
        [node, str(NODE_SCRIPT), *arguments, cookie],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    claims, info = result["claims"], result["userinfo"]
    assert claims["iss"] == live.base_url and claims["aud"] == site.client_id
    assert info["sub"] == claims["sub"] and info["gender"] == "male"
    assert info["address"]["region"] == "東京都" and info["given_name#ja-Kana-JP"] == "タロウ"
    assert result["replay"] == "invalid_grant"
    assert result["logout"] == {"status": 303, "location": site.post_logout_redirect_uri + "?state=bye"}
    assert result["after_logout"]["status"] == 303
    assert result["after_logout"]["location"].startswith("/portal/login?next=")


def test_parallel_redemptions_of_one_code_give_exactly_one_token(live: Live) -> None:
    """Eight copies of the token request at once: one wins, the others are refused and revoke what it got."""
    site = add_site(live.context.settings, "並行", "http://127.0.0.1:9/par/cb", "http://127.0.0.1:9/par/")
    verifier, nonce = generate_token(48), generate_token(20)
    rp = OAuth2Client(
        site.client_id,
        site.client_secret,
        scope="openid",
        redirect_uri=site.redirect_uri,
        trust_env=False,
        code_challenge_method="S256",
    )
    url, _ = rp.create_authorization_url(live.base_url + "/oidc/authorize", code_verifier=verifier, nonce=nonce)
    with browser(live.base_url, portal_cookie(live.context, live.resident_id)) as resident:
        code = parse_qs(urlsplit(_consent(resident, url)).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": site.redirect_uri}
    form["code_verifier"] = verifier
    start = threading.Barrier(8)

    def redeem(_: int) -> httpx.Response:
        with httpx.Client(trust_env=False, timeout=30) as http:
            start.wait()
            return http.post(live.base_url + "/oidc/token", data=form, auth=(site.client_id, site.client_secret))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(redeem, range(8)))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 7
    assert {a.json()["error"] for a in answers if a.status_code == 400} == {"invalid_grant"}
    winner = next(a for a in answers if a.status_code == 200).json()["access_token"]
    with httpx.Client(trust_env=False, timeout=30) as http:
        revoked = http.get(live.base_url + "/oidc/userinfo", headers={"Authorization": f"Bearer {winner}"})
    assert revoked.status_code == 401


def test_rp_add_refuses_an_unusable_redirect_uri_with_exit_1_and_nothing_on_stdout(live: Live) -> None:
    command = [
        str(Path(sys.executable).parent / "openmyna"),
        "portal",
        "rp",
        "add",
        "x",
        "--redirect-uri",
        "ftp://x/cb",
    ]
    done = subprocess.run(command, env=environment(live.context.settings), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == "" and "redirect_uri" in done.stderr
