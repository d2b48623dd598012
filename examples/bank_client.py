"""A bank's eKYC client, as a bank's developer would write it against the platform operator: httpx and cryptography.

The bank authenticates with OAuth2 client credentials and a ``private_key_jwt`` assertion (RFC 7523, ES256).
The customer's card signs through the local card reader (``openmyna card reader-serve``:
``POST /reader/certificate``, ``POST /reader/sign``). Nothing here imports openmyna.

- account opening (eKYC): a challenge for ``account_opening``; the card signs the challenge, a newline and the
  application text with the signing key (PIN 6–16 characters); ``POST /api/ekyc/verifications`` answers the
  facts the bank is registered for and a verification id the bank keeps with the account;
- later: ``POST /api/ekyc/verifications/{id}/status`` says whether the certificate was revoked or replaced (the
  customer moved) and, when replaced, the new certificate's facts (the new address);
- internet banking login: the card signs a ``login`` challenge with the authentication key (4-digit PIN);
  ``POST /api/ekyc/logins`` answers the bank's own pseudonym of the holder, the same as at account opening.

    python examples/bank_client.py --bank openmyna-bank --key bank.pem open-account --pin ABC123
    python examples/bank_client.py --bank openmyna-bank --key bank.pem status ekyc_...
    python examples/bank_client.py --bank openmyna-bank --key bank.pem login --pin 1234
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

SCOPE = "ekyc:use"
APPLICATION = "普通預金口座開設"


class Refused(Exception):
    """The operator or the reader answered with an RFC 9457 problem."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(f"{problem.get('title')}: {problem.get('detail')}")
        self.problem = problem


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _answer(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if response.is_error:
        raise Refused(body)
    return body


def access_token(api: httpx.Client, *, client_id: str, private_pem: bytes, base_url: str) -> str:
    """The client-credentials grant with an ES256 client assertion (RFC 7523 §2.2)."""
    endpoint = base_url.rstrip("/") + "/oauth/token"
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": endpoint, "iat": now, "exp": now + 120}
    claims["jti"] = secrets.token_urlsafe(16)
    signing_input = (
        f"{_b64url(json.dumps({'alg': 'ES256', 'typ': 'JWT'}).encode())}.{_b64url(json.dumps(claims).encode())}"
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}",
        "scope": SCOPE,
    }
    return str(_answer(api.post("/oauth/token", data=form))["access_token"])


def _challenge(api: httpx.Client, auth: dict[str, str], purpose: str) -> bytes:
    return base64.b64decode(
        _answer(api.post("/api/ekyc/challenges", json={"purpose": purpose}, headers=auth))["challenge"]
    )


def open_account(
    api: httpx.Client,
    reader: httpx.Client,
    *,
    token: str,
    pin: str,
    application: str = APPLICATION,
    facts: list[str] | None = None,
) -> dict[str, Any]:
    """eKYC: the customer signs the application on the card; the operator answers the verified facts."""
    auth = {"Authorization": f"Bearer {token}"}
    challenge = _challenge(api, auth, "account_opening")
    message = base64.b64encode(challenge + b"\n" + application.encode()).decode()
    certificate = _answer(reader.post("/reader/certificate", json={"kind": "sign", "pin": pin}))["certificate"]
    signature = _answer(reader.post("/reader/sign", json={"challenge": message, "pin": pin, "kind": "sign"}))
    body: dict[str, Any] = {
        "challenge": base64.b64encode(challenge).decode(),
        "application": application,
        "certificate": certificate,
        "signature": signature["signature"],
    }
    if facts is not None:
        body["facts"] = facts
    return _answer(api.post("/api/ekyc/verifications", json=body, headers=auth))


def certificate_status(api: httpx.Client, *, token: str, verification_id: str) -> dict[str, Any]:
    """Was the customer's signing certificate revoked or replaced since the account was opened?"""
    url = f"/api/ekyc/verifications/{verification_id}/status"
    return _answer(api.post(url, headers={"Authorization": f"Bearer {token}"}))


def login(api: httpx.Client, reader: httpx.Client, *, token: str, pin: str) -> dict[str, Any]:
    """Internet-banking login: the card signs a login challenge with its authentication key."""
    auth = {"Authorization": f"Bearer {token}"}
    challenge = _challenge(api, auth, "login")
    certificate = _answer(reader.get("/reader/certificate"))["certificate"]
    encoded = base64.b64encode(challenge).decode()
    signature = _answer(reader.post("/reader/sign", json={"challenge": encoded, "pin": pin, "kind": "auth"}))
    body = {"challenge": encoded, "certificate": certificate, "signature": signature["signature"]}
    return _answer(api.post("/api/ekyc/logins", json=body, headers=auth))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--bank", required=True, help="the bank's organisation code at the operator")
    parser.add_argument("--key", required=True, help="the bank's private key (PEM)")
    parser.add_argument("--reader", default="http://127.0.0.1:8765")
    commands = parser.add_subparsers(dest="command", required=True)
    opening = commands.add_parser("open-account")
    opening.add_argument("--pin", required=True, help="the signing PIN")
    opening.add_argument("--application", default=APPLICATION)
    commands.add_parser("status").add_argument("verification_id")
    commands.add_parser("login").add_argument("--pin", required=True, help="the 4-digit PIN")
    args = parser.parse_args()
    with open(args.key, "rb") as handle:
        private_pem = handle.read()
    with httpx.Client(base_url=args.base) as api, httpx.Client(base_url=args.reader) as reader:
        try:
            token = access_token(api, client_id=args.bank, private_pem=private_pem, base_url=args.base)
            if args.command == "open-account":
                answer = open_account(api, reader, token=token, pin=args.pin, application=args.application)
            elif args.command == "status":
                answer = certificate_status(api, token=token, verification_id=args.verification_id)
            else:
                answer = login(api, reader, token=token, pin=args.pin)
        except Refused as exc:
            print(json.dumps(exc.problem, ensure_ascii=False))
            return 1
    print(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
