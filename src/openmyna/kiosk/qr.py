"""The QR code on every certificate: a compact digest signed by the municipality's document key.

``OMK1.<payload>.<signature>``, both parts base64url without padding. The payload is JSON with the
certificate number, municipality, kind, date of issue, the holder's name and birth date, and the serial
of the key that signed it. Anyone with the published certificates (``/kiosk/ca.pem``) checks a paper copy
offline: the signature, and that the key's certificate was issued by the organisation CA.
Revocation cannot be checked offline; ``/verify`` answers that online.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openmyna.core.errors import InvalidInput

PREFIX = "OMK1"
FIELDS = ("n", "m", "k", "d", "nm", "b", "s")


class BadCode(InvalidInput):
    slug = "kiosk-bad-qr"
    title_ja = "QRコードを確認できません"
    title_en = "The QR code does not check"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise BadCode("the code is not base64url") from exc


def encode(claims: dict[str, str], key: rsa.RSAPrivateKey) -> str:
    """The signed text the QR code carries."""
    payload = json.dumps({k: claims[k] for k in FIELDS}, ensure_ascii=False, separators=(",", ":")).encode()
    signature = key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return f"{PREFIX}.{_b64(payload)}.{_b64(signature)}"


@dataclass(frozen=True)
class Checked:
    claims: dict[str, Any]
    signer: x509.Certificate


def check(text: str, *, certificates: list[x509.Certificate]) -> Checked:
    """The claims of a code whose signature verifies under a published key issued by a published CA."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise BadCode(f"not an openmyna certificate code (expected {PREFIX}.payload.signature)")
    payload, signature = _unb64(parts[1]), _unb64(parts[2])
    try:
        claims = json.loads(payload)
    except ValueError as exc:
        raise BadCode("the payload is not JSON") from exc
    if not isinstance(claims, dict) or set(claims) != set(FIELDS):
        raise BadCode("the payload does not hold the expected fields")
    by_serial = {format(c.serial_number, "x"): c for c in certificates}
    signer = by_serial.get(str(claims["s"]))
    if signer is None:
        raise BadCode(f"no published certificate has the serial {claims['s']}")
    anchors = [c for c in certificates if c.issuer == c.subject]
    issuer = next((a for a in anchors if a.subject == signer.issuer), None)
    if issuer is None:
        raise BadCode("the signing certificate was not issued by a published CA")
    try:
        signer.verify_directly_issued_by(issuer)
        public = signer.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise BadCode("the signature does not verify: the code was altered or not issued by this key") from exc
    return Checked(claims, signer)
