"""OAuth2 client credentials with private_key_jwt (RFC 7523) through the HTTP layer."""

from __future__ import annotations

import datetime as dt
import time

from authlib.oauth2.rfc7523 import private_key_jwt_sign
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing, private_key_pem
from openmyna.orgs import service
from tests.conftest import bearer_for

ENDPOINT = "http://testserver/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _post(client: TestClient, assertion: str, **extra: str):
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }
    return client.post("/oauth/token", data=form)


def _sign(pem: bytes, code: str = "131016", **claims: object) -> str:
    return private_key_jwt_sign(ECKey.import_key(pem), code, ENDPOINT, alg="ES256", claims=claims or None)


def test_token_then_api_call(client: TestClient, town) -> None:
    response = _post(client, _sign(town.private_key_pem))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == set(service.KIND_SCOPES["municipality"])  # all that the kind may hold
    assert {"registry:read", "registry:write"} <= set(body["scope"].split())
    assert response.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/orgs", headers=headers).status_code == 200


def test_replayed_assertion_is_refused(client: TestClient, town) -> None:
    assertion = _sign(town.private_key_pem)
    assert _post(client, assertion).status_code == 200
    replay = _post(client, assertion)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
    assert "replay" in replay.json()["detail"]


def test_assertion_signed_by_another_key_is_refused(client: TestClient, town) -> None:
    stranger = private_key_pem(ec.generate_private_key(ec.SECP256R1()))
    response = _post(client, _sign(stranger))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_expired_assertion_is_refused(client: TestClient, town) -> None:
    past = int(time.time()) - 120
    response = _post(client, _sign(town.private_key_pem, exp=past, iat=past - 60))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_assertion_for_another_audience_is_refused(client: TestClient, town) -> None:
    response = _post(client, _sign(town.private_key_pem, aud="https://elsewhere.example/token"))
    assert response.status_code == 401
    assert "aud" in response.json()["detail"]


def test_unknown_client_and_garbage(client: TestClient, town) -> None:
    assert _post(client, _sign(town.private_key_pem, code="999999")).status_code == 401
    assert _post(client, "not-a-jwt").status_code == 401
    assert _post(client, "a.b.c").status_code == 401
    missing = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert missing.status_code == 401


def test_wrong_grant_and_scope(client: TestClient, town) -> None:
    wrong = client.post("/oauth/token", data={"grant_type": "password"})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "unsupported_grant_type"
    too_much = _post(client, _sign(town.private_key_pem), scope="registry:read card:admin")
    assert too_much.status_code == 400
    assert too_much.json()["error"] == "invalid_scope"
    narrow = _post(client, _sign(town.private_key_pem), scope="registry:read")
    assert narrow.json()["scope"] == "registry:read"


def test_narrow_token_cannot_write(client: TestClient, town) -> None:
    headers = bearer_for(client, "131016", town.private_key_pem, scope="registry:read")
    response = client.post("/api/registry/residents", headers=headers, json={})
    assert response.status_code == 403
    assert response.json()["required_scope"] == "registry:write"


def test_organisation_without_the_scope_is_forbidden(client: TestClient, db: Session, keys: KeyRing) -> None:
    ministry = service.add_organisation(db, keys=keys, code="mhlw", name="厚生労働省", kind="ministry")
    db.commit()
    headers = bearer_for(client, "mhlw", ministry.private_key_pem)
    response = client.get("/api/registry/residents", params={"name": "山田"}, headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_expired_and_forged_access_tokens(client: TestClient, town) -> None:
    headers = bearer_for(client, "131016", town.private_key_pem)
    later = clock.now() + dt.timedelta(hours=1)
    with clock.frozen_at(later):
        expired = client.get("/api/orgs", headers=headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    forged = headers["Authorization"][:-4] + "AAAA"
    assert client.get("/api/orgs", headers={"Authorization": forged}).status_code == 401
    assert client.get("/api/orgs").status_code == 401
    assert client.get("/api/orgs").headers["www-authenticate"] == "Bearer"


def test_add_organisation_rules(db: Session, keys: KeyRing) -> None:
    import pytest

    from openmyna.core.errors import Conflict, InvalidInput

    service.add_organisation(db, keys=keys, code="nenkin", name="日本年金機構", kind="pension_office")
    with pytest.raises(Conflict):
        service.add_organisation(db, keys=keys, code="nenkin", name="x", kind="pension_office")
    with pytest.raises(InvalidInput):
        service.add_organisation(db, keys=keys, code="x", name="x", kind="bank")
    with pytest.raises(InvalidInput):
        service.add_organisation(db, keys=keys, code="y", name="y", kind="shop", scopes=("registry:write",))
    custodial = service.add_organisation(
        db, keys=keys, code="jlis", name="J-LIS", kind="platform_operator", custodial=True
    )
    assert service.custodial_private_key(keys, custodial.organisation) == custodial.private_key_pem
    assert custodial.private_key_pem not in (custodial.organisation.custodial_key or b"")
