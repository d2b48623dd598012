"""``POST /oauth/token`` with hostile client assertions (regressions for dac8297): a client id or ``jti``
holding NUL or a lone surrogate, an over-long ``jti``, an ``exp`` out of range. Each is a 401
``invalid_client`` problem, never a 500, on both databases; a good assertion still works afterwards."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi.testclient import TestClient

from tests.orgs.test_tokens import ENDPOINT, _post, _sign

CLIENT = "131016"


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"iat": now, "exp": now + 60, "jti": uuid.uuid4().hex, **overrides}


CASES: dict[str, tuple[str, dict[str, object], dict[str, str]]] = {
    # name → (the client id signed as iss and sub, the claims, extra form fields)
    "iss_with_nul": (CLIENT + "\x00", _claims(), {}),
    "iss_lone_surrogate": ("\ud800", _claims(), {}),
    "iss_lone_surrogate_after_the_code": (CLIENT + "\udfff", _claims(), {}),
    "form_client_id_with_nul": (CLIENT, _claims(), {"client_id": CLIENT + "\x00"}),
    "form_client_id_over_long": (CLIENT, _claims(), {"client_id": "1" * 300}),
    "jti_300_characters": (CLIENT, _claims(jti="j" * 300), {}),
    "jti_with_nul": (CLIENT, _claims(jti="abc\x00def"), {}),
    "jti_lone_surrogate": (CLIENT, _claims(jti="abc\ud800"), {}),
    "jti_control_character": (CLIENT, _claims(jti="abc\x1bdef"), {}),
    "exp_1e20": (CLIENT, _claims(exp=1e20), {}),
    "exp_huge_integer": (CLIENT, _claims(exp=10**30), {}),
    "exp_negative": (CLIENT, _claims(exp=-1), {}),
    "exp_true": (CLIENT, _claims(exp=True), {}),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign_escaped(pem: bytes, code: str, **claims: object) -> str:
    """An ES256 assertion whose JSON carries escapes such as a lone surrogate (JOSE libraries refuse to write
    them, but an attacker's bytes need no library): RFC 7515 compact form, signed with the client's key."""
    key = load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    payload = {"iss": code, "sub": code, "aud": ENDPOINT, **claims}
    signing_input = ".".join(
        _b64(json.dumps(part, ensure_ascii=True).encode()) for part in ({"alg": "ES256", "typ": "JWT"}, payload)
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def test_the_escaped_signer_makes_assertions_the_server_accepts(client: TestClient, town) -> None:
    """The control: the hand-made signer is right, so the refusals below are for the content alone."""
    assert _post(client, _sign_escaped(town.private_key_pem, CLIENT, **_claims())).status_code == 200


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_assertion_is_invalid_client_not_a_500(client: TestClient, town, case: str) -> None:
    code, claims, form = CASES[case]
    assertion = _sign_escaped(town.private_key_pem, code, **claims)
    response = _post(client, assertion, **form)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["error"] == "invalid_client" and body["status"] == 401, body
    again = _post(client, assertion, **form)  # nothing half-stored makes the second try different
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    good = _post(client, _sign(town.private_key_pem))
    assert good.status_code == 200, good.text


def test_the_limits_are_inclusive_of_what_real_clients_send(client: TestClient, town) -> None:
    """The bounds refuse only the absurd: a 128-character jti and a far but representable exp are accepted."""
    for claims in (_claims(jti="j" * 128), _claims(exp=int(time.time()) + 3600)):
        response = _post(client, _sign(town.private_key_pem, **claims))
        assert response.status_code == 200, response.text
