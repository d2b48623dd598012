"""The signed content of an application and its CMS (CAdES-BES) detached signature, made by the card.

The content is the RFC 8785 canonical JSON (``rfc8785``) of the procedures, the form data and the
SHA-256 of each attachment, so the one signature covers the files too. The signature is built by
pyhanko's CMS machinery; only the raw RSA operation is the card's: a ``CardSigner`` hands the SHA-256
of the signed attributes to the reader (``Reader.sign("sign", pin, digest=...)``). A browser signs in
two steps: :func:`prepare` builds the SignedData with a placeholder signature and returns the digest the
local reader must sign, :func:`complete` puts the card's signature in (asn1crypto, no hand-made DER).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any

import rfc8785
from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography.utils import CryptographyDeprecationWarning

from openmyna.core import clock
from openmyna.core.errors import InvalidInput

FORMAT = "openmyna-eservice-application/1"
SIGNATURE_BYTES = 256  # RSA-2048


class BadSignature(InvalidInput):
    """The CMS object is malformed or does not verify over the content."""

    slug = "eservice-bad-signature"
    title_ja = "電子署名を検証できません"
    title_en = "The electronic signature does not verify"


def canonical_content(
    *,
    municipality: str,
    procedures: list[str],
    data: dict[str, Any],
    attachments: list[dict[str, Any]],
    life_event: str | None = None,
) -> bytes:
    """The exact bytes an applicant signs (RFC 8785 JSON); attachments as code, name, type, size, sha256."""
    document = {
        "format": FORMAT,
        "municipality": municipality,
        "procedures": procedures,
        "life_event": life_event,
        "data": data,
        "attachments": attachments,
    }
    try:
        return rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidInput(f"the form data cannot be put in canonical JSON: {exc}") from exc


@cache
def _pyhanko() -> SimpleNamespace:
    """pyhanko, imported on first use: it costs seconds of start-up that most processes never need."""
    with warnings.catch_warnings():  # pyhanko imports cryptography's DSA types, which cryptography deprecates
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        from pyhanko.sign import signers
        from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
        from pyhanko.sign.validation.generic_cms import validate_sig_integrity
        from pyhanko_certvalidator.registry import SimpleCertificateStore

    class CardSigner(signers.Signer):  # type: ignore[misc]
        """A pyhanko signer whose private key is on the card: ``sign_digest`` gets the SHA-256 to sign."""

        def __init__(self, certificate_der: bytes, sign_digest: Callable[[bytes], bytes]) -> None:
            certificate = asn1_x509.Certificate.load(certificate_der)
            super().__init__(
                signing_cert=certificate,
                cert_registry=SimpleCertificateStore.from_certs([certificate]),
                embed_roots=False,
            )
            self._sign_digest = sign_digest

        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            if dry_run:
                return bytes(SIGNATURE_BYTES)
            if digest_algorithm != "sha256":
                raise InvalidInput(f"the card signs SHA-256 digests, not {digest_algorithm}")
            return self._sign_digest(hashlib.sha256(data).digest())

    return SimpleNamespace(
        CardSigner=CardSigner,
        PdfCMSSignedAttributes=PdfCMSSignedAttributes,
        validate_sig_integrity=validate_sig_integrity,
    )


def sign(content: bytes, *, certificate_der: bytes, sign_digest: Callable[[bytes], bytes]) -> bytes:
    """A DER CMS SignedData (CAdES-BES, detached) over ``content``, the raw signature made by ``sign_digest``."""
    hanko = _pyhanko()
    signer = hanko.CardSigner(certificate_der, sign_digest)
    attributes = hanko.PdfCMSSignedAttributes(signing_time=clock.now())  # the platform's clock, so tests can move it
    info = asyncio.run(
        signer.async_sign_general_data(
            content, "sha256", detached=True, use_cades=True, signed_attr_settings=attributes
        )
    )
    return bytes(info.dump())


def prepare(content: bytes, *, certificate_der: bytes) -> tuple[bytes, bytes]:
    """(the SignedData with a placeholder signature, the SHA-256 digest the card must sign)."""
    captured: list[bytes] = []

    def capture(digest: bytes) -> bytes:
        captured.append(digest)
        return bytes(SIGNATURE_BYTES)

    template = sign(content, certificate_der=certificate_der, sign_digest=capture)
    return template, captured[0]


def complete(template: bytes, signature: bytes) -> bytes:
    """The template of :func:`prepare` with the card's ``signature`` in its one SignerInfo."""
    if len(signature) != SIGNATURE_BYTES:
        raise BadSignature(f"an RSA-2048 signature is {SIGNATURE_BYTES} bytes, not {len(signature)}")
    info = cms.ContentInfo.load(template)
    info["content"]["signer_infos"][0]["signature"] = core.OctetString(signature)
    return bytes(info.dump(force=True))


@dataclass(frozen=True)
class Verified:
    """A signature that verifies over the content: by which certificate, and when the signer says it signed."""

    certificate_der: bytes
    signing_time: dt.datetime | None


def _same_name(one: asn1_x509.Name, other: asn1_x509.Name) -> bool:
    """X.501 names equal: the same DER bytes (the usual case, cheap), else by asn1crypto's RFC 5280 comparison
    (string preparation of every attribute, a millisecond a name)."""
    return one.dump() == other.dump() or one == other


def verify(content: bytes, signature_der: bytes) -> Verified:
    """Check the CMS structure, the message digest over ``content`` and the RSA signature (no trust decision:
    whose certificate it is and its status are the caller's check, against the JPKI signing CA)."""
    try:
        info = cms.ContentInfo.load(signature_der, strict=True)
        if info["content_type"].native != "signed_data":
            raise BadSignature("not a CMS SignedData")
        signed = info["content"]
        if signed["encap_content_info"]["content"].native is not None:
            raise BadSignature("the signature must be detached (no embedded content)")
        if len(signed["signer_infos"]) != 1:
            raise BadSignature("exactly one signer is expected")
        signer_info = signed["signer_infos"][0]
        wanted = signer_info["sid"].chosen
        certificate = next(
            (
                c.chosen
                for c in signed["certificates"] or []
                if c.name == "certificate"
                and isinstance(wanted, cms.IssuerAndSerialNumber)
                and c.chosen.serial_number == wanted["serial_number"].native
                and _same_name(c.chosen.issuer, wanted["issuer"])
            ),
            None,
        )
        if certificate is None:
            raise BadSignature("the signer's certificate is not in the SignedData")
        if signer_info["digest_algorithm"]["algorithm"].native != "sha256":
            raise BadSignature("the digest algorithm must be SHA-256")
        intact, valid = _pyhanko().validate_sig_integrity(
            signer_info, certificate, "data", hashlib.sha256(content).digest()
        )
        signing_time = None
        for attribute in signer_info["signed_attrs"]:
            if attribute["type"].native == "signing_time":
                signing_time = attribute["values"][0].native
    except BadSignature:
        raise
    except Exception as exc:  # asn1crypto and pyhanko raise many kinds on malformed input
        raise BadSignature(f"the CMS signature cannot be read: {exc}") from exc
    if not intact:
        raise BadSignature("the signature does not cover this content (message digest differs)")
    if not valid:
        raise BadSignature("the RSA signature does not verify with the signer's certificate")
    return Verified(bytes(certificate.dump()), signing_time)
