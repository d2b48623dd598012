"""The keys that sign issued documents: one per municipality, and the centre's time-stamping unit.

Each key is RSA-2048, sealed under the master key in ``kiosk_signers``; its certificate comes from the
platform's organisation CA (``jpki`` kind ``org``), so the CA's OCSP responder and CRL cover it and a
revoked key stops validating everywhere. Keys are opened once per process (the signing hot path).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.kiosk.models import DocumentSigner

MUNICIPALITY = "municipality"
TSA = "tsa"
TSA_OWNER = "tsa"


@dataclass(frozen=True)
class LoadedSigner:
    serial: str
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    ca_certificate: x509.Certificate


def _context(owner: str, role: str) -> bytes:
    return f"kiosk.signer:{role}:{owner}".encode()


def _create(session: Session, *, config: CaConfig, owner: str, role: str, organisation: str) -> DocumentSigner:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unit = "Time-stamping unit" if role == TSA else f"Certificate issuance {owner}"
    row = jpki.issue_organisation(
        session,
        config=config,
        public_key=key.public_key(),
        organisation=organisation,
        unit=unit,
        holder_ref=f"{role}:{owner}",
        time_stamping=role == TSA,
    )
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signer = DocumentSigner(
        owner=owner,
        role=role,
        serial=row.serial,
        certificate_der=row.der,
        key_sealed=config.keys.seal(der, context=_context(owner, role)),
        active=True,
        created_at=clock.now(),
    )
    session.add(signer)
    session.flush()
    return signer


def _active(session: Session, owner: str, role: str) -> DocumentSigner | None:
    return session.scalar(
        select(DocumentSigner)
        .where(DocumentSigner.owner == owner, DocumentSigner.role == role, DocumentSigner.active.is_(True))
        .order_by(DocumentSigner.id.desc())
        .limit(1)
    )


def ensure(session: Session, *, config: CaConfig, owner: str, role: str, organisation: str) -> DocumentSigner:
    """The owner's active signer, created with its certificate on first use."""
    found = _active(session, owner, role)
    return found or _create(session, config=config, owner=owner, role=role, organisation=organisation)


_loaded: dict[str, LoadedSigner] = {}
_lock = threading.Lock()


def load(session: Session, *, config: CaConfig, row: DocumentSigner) -> LoadedSigner:
    with _lock:
        found = _loaded.get(row.serial)
    if found is not None:
        return found
    key = serialization.load_der_private_key(
        config.keys.open(row.key_sealed, context=_context(row.owner, row.role)), None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    ca = x509.load_pem_x509_certificate(jpki.ca_certificate_pem(session, config=config, kind="org"))
    loaded = LoadedSigner(row.serial, x509.load_der_x509_certificate(row.certificate_der), key, ca)
    with _lock:
        _loaded[row.serial] = loaded
    return loaded


def municipality_signer(session: Session, *, config: CaConfig, code: str, name: str) -> LoadedSigner:
    return load(
        session, config=config, row=ensure(session, config=config, owner=code, role=MUNICIPALITY, organisation=name)
    )


def tsa_signer(session: Session, *, config: CaConfig) -> LoadedSigner:
    row = ensure(session, config=config, owner=TSA_OWNER, role=TSA, organisation="openmyna")
    return load(session, config=config, row=row)


def revoke(session: Session, *, config: CaConfig, code: str, reason: str = "key_compromise") -> str:
    """Revoke the municipality's active key (CRL and OCSP at once); the next document gets a new key."""
    row = _active(session, code, MUNICIPALITY)
    if row is None:
        raise jpki.CertificateNotFound(f"{code} has no document-signing key")
    jpki.revoke(session, config=config, serial=row.serial, reason=reason)
    row.active = False
    return row.serial


def trust_pem(session: Session, *, config: CaConfig) -> bytes:
    """The organisation CA (the trust anchor) followed by every municipality's signing certificates."""
    pem = jpki.ca_certificate_pem(session, config=config, kind="org")
    rows = session.scalars(
        select(DocumentSigner).where(DocumentSigner.role == MUNICIPALITY).order_by(DocumentSigner.id)
    )
    for row in rows:
        pem += x509.load_der_x509_certificate(row.certificate_der).public_bytes(serialization.Encoding.PEM)
    return pem
