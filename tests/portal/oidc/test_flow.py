"""The provider in process: discovery, the code flow with PKCE and nonce, id_token, userinfo, consent, logout."""

from __future__ import annotations

from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from openmyna.core.audit import events_for
from openmyna.core.crypto import KeyRing
from openmyna.portal.oidc import service
from openmyna.registry import service as registry
from openmyna.registry.models import Resident
from tests.portal.oidc.flow import AuthRequest, authorize, code_for, consent, query_of, redeem


def test_discovery_names_the_issuer_and_what_is_supported(client: TestClient) -> None:
    document = client.get("/.well-known/openid-configuration").json()
    assert document["issuer"] == "http://testserver"
    assert document["authorization_endpoint"] == "http://testserver/oidc/authorize"
    assert document["subject_types_supported"] == ["pairwise"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    keys = client.get("/oidc/jwks").json()["keys"]
    assert [key["alg"] for key in keys] == ["ES256"] and "d" not in keys[0]


def test_code_flow_gives_a_signed_id_token_and_exactly_the_consented_claims(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, db: Session, keys: KeyRing
) -> None:
    request = AuthRequest(rp.client_id, scope="openid profile address")
    page = authorize(client, request)
    assert page.status_code == 200
    assert page.text.count("<li data-scope=") == 3  # openid, profile, address: nothing else is listed
    assert 'data-scope="birthdate"' not in page.text
    code = query_of(consent(client, page))["code"]
    token = redeem(client, request, code, rp.client_secret)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"].lower() == "bearer" and body["scope"] == "openid profile address"
    assert token.headers["cache-control"] == "no-store"

    jwks = KeySet.import_key_set(client.get("/oidc/jwks").json())
    id_token = jwt.decode(body["id_token"], jwks, algorithms=["ES256"])
    claims = id_token.claims
    assert claims["iss"] == "http://testserver" and claims["aud"] == rp.client_id
    assert claims["nonce"] == request.nonce and "at_hash" in claims and "auth_time" in claims
    resident = db.get(Resident, logged_in)
    assert resident is not None
    person = registry.subject_of(resident)
    assert claims["sub"] not in (person, person.removeprefix("person:"), registry.my_number_of(keys, resident))
    assert len(claims["sub"]) == 43

    info = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200, info.text
    data = info.json()
    assert data["sub"] == claims["sub"]
    assert data["name"] == "山田 太郎" and data["name#ja-Kana-JP"] == "ヤマダ タロウ"
    assert data["address"]["postal_code"] == "1020072" and data["address"]["country"] == "JP"
    assert "birthdate" not in data and "gender" not in data

    page = client.get("/portal/linked-sites")
    assert 'data-action="token"' in page.text and 'data-action="userinfo"' in page.text  # the resident sees both
    assert "テスト銀行" in page.text and "住所" in page.text

    actions = [(e.action, e.actor_org, e.purpose) for e in events_for(db, person)]
    assert ("oidc.token", rp.client_id, "openid profile address") in actions
    assert ("registry.read", rp.client_id, "oidc.userinfo: openid profile address") in actions
    assert ("oidc.consent", "portal", rp.client_id) in actions


def test_client_secret_post_is_accepted_and_consent_is_remembered(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int
) -> None:
    first = AuthRequest(rp.client_id)
    redeem(client, first, code_for(client, first), rp.client_secret, basic=False).raise_for_status()
    second = AuthRequest(rp.client_id)
    again = authorize(client, second)
    assert again.status_code == 302  # no consent page: remembered
    token = redeem(client, second, query_of(again)["code"], rp.client_secret, basic=False)
    assert token.status_code == 200, token.text
    more = authorize(client, AuthRequest(rp.client_id, scope="openid profile birthdate"))
    assert more.status_code == 200 and 'data-scope="birthdate"' in more.text  # a new claim asks again


def test_pairwise_subjects_differ_between_sectors_and_stay_stable_within_one(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, db: Session, keys: KeyRing
) -> None:
    other = service.register_relying_party(db, keys=keys, name="他サイト", redirect_uris=["https://other.example/cb"])
    same_host = service.register_relying_party(db, keys=keys, name="同ホスト", redirect_uris=["https://rp.example/x"])
    db.commit()
    subs = []
    for site, uri in (
        (rp, "https://rp.example/cb"),
        (other, "https://other.example/cb"),
        (same_host, "https://rp.example/x"),
    ):
        request = AuthRequest(site.client_id, redirect_uri=uri)
        token = redeem(client, request, code_for(client, request), site.client_secret).json()
        info = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
        subs.append(info["sub"])
    assert subs[0] != subs[1] and subs[0] == subs[2]


def test_not_logged_in_goes_to_the_portal_login_and_back(client: TestClient, rp: service.NewRelyingParty) -> None:
    response = authorize(client, AuthRequest(rp.client_id))
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/portal/login?next=%2Foidc%2Fauthorize%3F")


def test_logout_with_id_token_hint_ends_the_session_and_returns_to_the_registered_uri(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, db: Session
) -> None:
    request = AuthRequest(rp.client_id)
    id_token = redeem(client, request, code_for(client, request), rp.client_secret).json()["id_token"]
    stray = client.get(
        "/oidc/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"},
        follow_redirects=False,
    )
    assert stray.status_code == 200 and "evil.example" not in stray.headers.get("location", "")
    log_in(client, resident_id=logged_in)
    done = client.get(
        "/oidc/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": "https://rp.example/bye", "state": "s1"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "https://rp.example/bye?state=s1"
    assert authorize(client, AuthRequest(rp.client_id)).status_code == 303  # logged out: back to the login page


def test_logout_without_a_hint_asks_first(client: TestClient, rp: service.NewRelyingParty, logged_in: int) -> None:
    page = client.get("/oidc/logout", follow_redirects=False)
    assert page.status_code == 200 and 'id="logout-confirm"' in page.text
    assert authorize(client, AuthRequest(rp.client_id)).status_code == 200  # still logged in


from tests.portal.sessions import log_in  # noqa: E402
