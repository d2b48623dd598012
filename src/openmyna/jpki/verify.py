"""Login with the card: verify a challenge signature, the certificate's chain, dates, policy and status.

The status comes from the OCSP responder's in-memory entries (re-read at most every 0.5 s), so a
revocation stops logins within a second and the check costs two RSA verifications, not a query.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openmyna.core import clock
from openmyna.core.errors import Unauthorized
from openmyna.jpki.models import GOOD
from openmyna.jpki.ocsp import Responder
from openmyna.jpki.profiles import POLICY_OIDS, Kind


class LoginRefused(Unauthorized):
    slug = "jpki-login-refused"
    title_ja = "電子証明書による認証ができません"
    title_en = "Card login refused"


@dataclass(frozen=True)
class VerifiedHolder:
    """Who signed: the certificate's kind, serial and issue id (the authentication one carries no facts)."""

    kind: Kind
    serial: str
    issue_id: str
    certificate: x509.Certificate


def verify_signature(
    responder: Responder, *, certificate_der: bytes, data: bytes, signature: bytes, kind: Kind = "auth"
) -> VerifiedHolder:
    """Accept ``signature`` over ``data`` only from a good, current ``kind`` certificate of our CA."""
    try:
        cert = x509.load_der_x509_certificate(certificate_der)
    except ValueError as exc:
        raise LoginRefused("the certificate cannot be parsed") from exc
    authority = responder.authority_for(cert)
    if authority is None or authority.kind != kind:
        raise LoginRefused(f"not a JPKI {kind} certificate")
    try:
        cert.verify_directly_issued_by(authority.certificate)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise LoginRefused("the certificate's signature does not verify against the CA") from exc
    now = clock.now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise LoginRefused("the certificate is not within its validity period")
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    if not any(p.policy_identifier == POLICY_OIDS[kind] for p in policies):
        raise LoginRefused("the certificate does not carry the JPKI policy")
    status = responder.status(authority, cert.serial_number)
    if status.status != GOOD:
        raise LoginRefused(f"the certificate is {status.status.replace('_', ' ')}", reason=status.reason)
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise LoginRefused("the signature does not match the challenge") from exc
    subject_cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    return VerifiedHolder(kind, format(cert.serial_number, "x"), str(subject_cn), cert)
