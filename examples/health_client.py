"""A reception terminal's eligibility client, as a vendor would write it: httpx and cryptography only.

It authenticates the clinic with OAuth2 client credentials and a ``private_key_jwt`` assertion (RFC 7523,
ES256), asks the platform for a challenge, has the card sign it through the local card reader
(``openmyna card reader-serve``: ``GET /reader/certificate``, ``POST /reader/sign``) and sends the
certificate and signature to ``POST /api/health/eligibility``. Nothing here imports openmyna.

    python examples/health_client.py --base http://127.0.0.1:8000 --clinic 1310112345 \\
        --key clinic.pem --reader http://127.0.0.1:8765 --pin 1234 [--share]
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

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Refused(Exception):
    """The platform or the reader answered with an RFC 9457 problem."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(f"{problem.get('title')}: {problem.get('detail')}")
        self.problem = problem


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def client_assertion(private_pem: bytes, *, client_id: str, token_endpoint: str) -> str:
    """A compact ES256 JWS (RFC 7515) whose claims RFC 7523 asks of a client assertion."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    now = int(time.time())
    header = {"alg": "ES256", "typ": "JWT"}
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(16),
    }
    signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _json(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if response.is_error:
        raise Refused(body)
    return body


def access_token(api: httpx.Client, *, client_id: str, private_pem: bytes, base_url: str) -> str:
    endpoint = base_url.rstrip("/") + "/oauth/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(private_pem, client_id=client_id, token_endpoint=endpoint),
        "scope": "health:check",
    }
    return str(_json(api.post("/oauth/token", data=form))["access_token"])


def check_eligibility(
    api: httpx.Client, reader: httpx.Client, *, token: str, pin: str, share: bool = False, face_check: str = "not_used"
) -> dict[str, Any]:
    """One reception: challenge, card signature through the reader, the clearing house's answer."""
    auth = {"Authorization": f"Bearer {token}"}
    challenge = _json(api.post("/api/health/challenges", json={"share_records": share}, headers=auth))["challenge"]
    certificate = _json(reader.get("/reader/certificate"))["certificate"]
    signature = _json(reader.post("/reader/sign", json={"challenge": challenge, "pin": pin, "kind": "auth"}))
    body = {
        "challenge": challenge,
        "certificate": certificate,
        "signature": signature["signature"],
        "face_check": face_check,
    }
    return _json(api.post("/api/health/eligibility", json=body, headers=auth))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--clinic", required=True, help="the clinic's organisation code (医療機関コード)")
    parser.add_argument("--key", required=True, help="the clinic's private key (PEM)")
    parser.add_argument("--reader", default="http://127.0.0.1:8765")
    parser.add_argument("--pin", required=True)
    parser.add_argument("--share", action="store_true", help="the patient agreed to share medicine records")
    args = parser.parse_args()
    with open(args.key, "rb") as handle:
        private_pem = handle.read()
    with httpx.Client(base_url=args.base) as api, httpx.Client(base_url=args.reader) as reader:
        try:
            token = access_token(api, client_id=args.clinic, private_pem=private_pem, base_url=args.base)
            answer = check_eligibility(api, reader, token=token, pin=args.pin, share=args.share)
        except Refused as exc:
            print(json.dumps(exc.problem, ensure_ascii=False))
            return 1
    print(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
