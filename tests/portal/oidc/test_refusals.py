"""What the provider refuses, and that a refusal changes nothing it should not (bad input is never a 500)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.audit import events_for
from openmyna.core.crypto import KeyRing
from openmyna.portal.oidc import service
from openmyna.portal.oidc.models import AuthorizationCode
from tests.portal.oidc.flow import AuthRequest, authorize, code_for, consent, query_of, redeem


def _codes(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(AuthorizationCode)) or 0


def _userinfo(client: TestClient, access_token: str) -> int:
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://evil.example/cb", "https://rp.example/cb/", "https://rp.example/cb?x=1", "https://RP.example/cb", None],
)
def test_an_unregistered_redirect_uri_is_an_error_page_never_a_redirect(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, redirect_uri: str | None, db: Session
) -> None:
    response = authorize(client, AuthRequest(rp.client_id), redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "oidc" not in response.text or "invalid_request" in response.text
    assert _codes(db) == 0


def test_an_unknown_client_or_odd_characters_are_an_error_page(client: TestClient, logged_in: int) -> None:
    unknown = authorize(client, AuthRequest("rp-nobody"))
    assert unknown.status_code == 400 and "location" not in unknown.headers
    nul = authorize(client, AuthRequest("rp-\x00"))
    assert nul.status_code == 400
    quoted = client.get("/oidc/authorize", params={"client_id": "x", "redirect_uri": 'https://a/"\\'})
    assert quoted.status_code == 400


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_missing_pkce_or_nonce_goes_back_to_the_site_as_an_error(
    client: TestClient,
    rp: service.NewRelyingParty,
    logged_in: int,
    overrides: dict[str, str | None],
    error: str,
    db: Session,
) -> None:
    request = AuthRequest(rp.client_id)
    response = authorize(client, request, **overrides)
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith("https://rp.example/cb?")
    query = query_of(response)
    assert query["error"] == error and query["state"] == request.state and query["iss"] == "http://testserver"
    assert _codes(db) == 0


def test_a_replayed_nonce_is_refused(client: TestClient, rp: service.NewRelyingParty, logged_in: int) -> None:
    request = AuthRequest(rp.client_id)
    code_for(client, request)
    again = authorize(client, AuthRequest(rp.client_id, nonce=request.nonce))
    assert query_of(again)["error"] == "invalid_request"


def test_a_wrong_code_verifier_is_refused_and_spends_the_code(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int
) -> None:
    request = AuthRequest(rp.client_id)
    code = code_for(client, request)
    wrong = redeem(client, request, code, rp.client_secret, verifier="x" * 43)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert redeem(client, request, code, rp.client_secret).json()["error"] == "invalid_grant"


def test_a_code_used_twice_is_refused_and_revokes_its_tokens(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, db: Session
) -> None:
    request = AuthRequest(rp.client_id)
    code = code_for(client, request)
    first = redeem(client, request, code, rp.client_secret)
    assert first.status_code == 200
    access_token = first.json()["access_token"]
    assert _userinfo(client, access_token) == 200
    second = redeem(client, request, code, rp.client_secret)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert _userinfo(client, access_token) == 401
    person = db.scalars(select(AuthorizationCode.subject)).first()
    assert person is not None
    assert any(e.action == "oidc.code_replayed" for e in events_for(db, person))


def test_another_clients_code_is_refused(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, db: Session, keys: KeyRing
) -> None:
    thief = service.register_relying_party(db, keys=keys, name="盗用", redirect_uris=["https://rp.example/cb"])
    db.commit()
    request = AuthRequest(rp.client_id)
    code = code_for(client, request)
    stolen = redeem(client, AuthRequest(thief.client_id), code, thief.client_secret, verifier=request.verifier)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert redeem(client, request, code, rp.client_secret).status_code == 200


@pytest.mark.parametrize("basic", [True, False])
def test_a_wrong_client_secret_is_refused_without_spending_the_code(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, basic: bool
) -> None:
    request = AuthRequest(rp.client_id)
    code = code_for(client, request)
    wrong = redeem(client, request, code, rp.client_secret + "x", basic=basic)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert redeem(client, request, code, rp.client_secret, basic=basic).status_code == 200


def test_an_expired_code_is_refused(client: TestClient, rp: service.NewRelyingParty, logged_in: int) -> None:
    request = AuthRequest(rp.client_id)
    code = code_for(client, request)
    with clock.frozen_at(clock.now() + service.CODE_LIFETIME + dt.timedelta(seconds=1)):
        late = redeem(client, request, code, rp.client_secret)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_a_revoked_consent_stops_tokens_and_pending_codes_and_asks_again(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int
) -> None:
    request = AuthRequest(rp.client_id)
    access_token = redeem(client, request, code_for(client, request), rp.client_secret).json()["access_token"]
    pending = AuthRequest(rp.client_id)
    pending_code = code_for(client, pending)

    page = client.get("/portal/linked-sites", headers={"accept": "text/html"})
    assert page.status_code == 200 and f'data-client-id="{rp.client_id}"' in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    revoked = client.post(f"/portal/linked-sites/{rp.client_id}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert revoked.status_code == 303
    assert f'data-client-id="{rp.client_id}"' not in client.get("/portal/linked-sites").text

    assert _userinfo(client, access_token) == 401
    assert redeem(client, pending, pending_code, rp.client_secret).json()["error"] == "invalid_grant"
    assert authorize(client, AuthRequest(rp.client_id)).status_code == 200  # the consent page again
    again = client.post(f"/portal/linked-sites/{rp.client_id}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert again.status_code == 404


def test_csrf_on_the_consent_and_revoke_forms(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, db: Session
) -> None:
    page = authorize(client, AuthRequest(rp.client_id))
    forged = consent(client, page, csrf="forged")
    assert forged.status_code == 403 and "location" not in forged.headers
    assert _codes(db) == 0
    missing = client.post(str(page.url), data={"decision": "allow"}, follow_redirects=False)
    assert missing.status_code == 403 and _codes(db) == 0
    code_for(client, AuthRequest(rp.client_id))
    revoke = client.post(f"/portal/linked-sites/{rp.client_id}/revoke", data={"csrf": "forged"})
    assert revoke.status_code == 403
    assert f'data-client-id="{rp.client_id}"' in client.get("/portal/linked-sites").text


def test_denying_consent_returns_access_denied_and_remembers_nothing(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, db: Session
) -> None:
    request = AuthRequest(rp.client_id)
    denied = consent(client, authorize(client, request), decision="deny")
    query = query_of(denied)
    assert query["error"] == "access_denied" and query["state"] == request.state and "code" not in query
    assert _codes(db) == 0
    assert authorize(client, AuthRequest(rp.client_id)).status_code == 200


def test_prompt_none_without_consent_is_consent_required(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int
) -> None:
    response = authorize(client, AuthRequest(rp.client_id), prompt="none")
    assert query_of(response)["error"] == "consent_required"


def test_userinfo_refuses_missing_or_unknown_tokens(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = client.get("/oidc/userinfo", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_registration_refuses_unusable_metadata(db: Session, keys: KeyRing) -> None:
    for uris in ([], ["ftp://x/cb"], ["https://a.example/cb", "https://b.example/cb"], ["https://a/cb#f"], ["/cb"]):
        with pytest.raises(service.InvalidClientMetadata):
            service.register_relying_party(db, keys=keys, name="x", redirect_uris=uris)
    with pytest.raises(service.InvalidClientMetadata):
        service.register_relying_party(db, keys=keys, name="\x00", redirect_uris=["https://a.example/cb"])


def test_expired_codes_and_tokens_are_purged_a_day_later(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, db: Session
) -> None:
    request = AuthRequest(rp.client_id)
    redeem(client, request, code_for(client, request), rp.client_secret).raise_for_status()
    assert service.purge_expired(db) == 0
    with clock.frozen_at(clock.now() + dt.timedelta(days=1, minutes=10)):
        assert service.purge_expired(db) == 2
    assert _codes(db) == 0


def test_an_old_card_authentication_is_asked_again_for_consent_prompt_login_and_max_age(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int
) -> None:
    code_for(client, AuthRequest(rp.client_id, scope="openid"))  # consent to openid remembered
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=11)):
        new_claim = authorize(client, AuthRequest(rp.client_id, scope="openid profile"))
        assert new_claim.status_code == 303 and new_claim.headers["location"].startswith("/portal/reauth?next=")
        remembered = authorize(client, AuthRequest(rp.client_id, scope="openid"))
        assert remembered.status_code == 302 and "code=" in remembered.headers["location"]
        for overrides in ({"prompt": "login"}, {"max_age": "300"}):
            again = authorize(client, AuthRequest(rp.client_id, scope="openid"), **overrides)
            assert again.status_code == 303 and again.headers["location"].startswith("/portal/reauth?next=")
        fresh_enough = authorize(client, AuthRequest(rp.client_id, scope="openid"), max_age="3600")
        assert fresh_enough.status_code == 302


@pytest.mark.parametrize("nonce", ["a\x00b", "n" * 256, "\x7f"])
def test_a_nonce_no_column_could_hold_goes_back_as_invalid_request(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int, nonce: str, db: Session
) -> None:
    response = authorize(client, AuthRequest(rp.client_id), nonce=nonce)
    assert response.status_code == 302 and query_of(response)["error"] == "invalid_request"
    assert _codes(db) == 0
    assert authorize(client, AuthRequest(rp.client_id), nonce="n" * 255).status_code == 200


def test_malformed_ids_and_oversized_values_are_4xx(
    client: TestClient, rp: service.NewRelyingParty, logged_in: int
) -> None:
    page = client.get("/portal/linked-sites")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0] if 'name="csrf"' in page.text else ""
    for client_id in ("%00", "x" * 200, "rp-%C0"):
        response = client.post(f"/portal/linked-sites/{client_id}/revoke", data={"csrf": csrf})
        assert 400 <= response.status_code < 500
    for form in ({"grant_type": "authorization_code", "code": "\x00" * 5000}, {"grant_type": "x" * 10000}, {}):
        token = client.post("/oidc/token", data=form, auth=(rp.client_id, rp.client_secret))
        assert 400 <= token.status_code < 500, token.text
    hint = client.get("/oidc/logout", params={"id_token_hint": "a.b.c\x00", "post_logout_redirect_uri": "x"})
    assert 400 <= hint.status_code < 500
    oversized = client.get("/oidc/authorize", params={"client_id": rp.client_id, "state": "s" * 10_000})
    assert 400 <= oversized.status_code < 500
