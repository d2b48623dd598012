"""The two certificate authorities: created once, then loaded (certificate, signer, OCSP responder) per process."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.jpki import profiles
from openmyna.jpki.models import Authority
from openmyna.jpki.profiles import KINDS, Kind, Urls
from openmyna.jpki.signers import FileSigner, Pkcs11Signer, Signer, open_signer, sign_certificate


@dataclass(frozen=True)
class CaConfig:
    """What the CA needs from the process: keys, where its URLs point, and where new CA keys go."""

    keys: KeyRing
    base_url: str
    key_dir: Path
    pkcs11_module: str | None = None
    pkcs11_token: str = "openmyna-jpki"
    pkcs11_pin: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, keys: KeyRing) -> CaConfig:
        pin = settings.jpki_pkcs11_pin.get_secret_value() if settings.jpki_pkcs11_pin else None
        return cls(
            keys=keys,
            base_url=settings.base_url,
            key_dir=(settings.var_dir / "jpki").resolve(),
            pkcs11_module=settings.jpki_pkcs11_module,
            pkcs11_token=settings.jpki_pkcs11_token,
            pkcs11_pin=pin,
        )

    @property
    def urls(self) -> Urls:
        return Urls(self.base_url)


@dataclass(frozen=True)
class LoadedAuthority:
    """An authority ready to sign: its parsed certificate, its signer and its OCSP responder."""

    id: int
    kind: Kind
    certificate: x509.Certificate
    signer: Signer
    responder_certificate: x509.Certificate
    responder_key: ec.EllipticCurvePrivateKey

    def cert_id_hashes(self, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
        """(issuerNameHash, issuerKeyHash) of an OCSP CertID under ``algorithm`` (RFC 6960 §4.1.1)."""
        name = self.certificate.subject.public_bytes()
        key = self.certificate.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        return hashlib.new(algorithm.name, name).digest(), hashlib.new(algorithm.name, key).digest()


def _responder_context(kind: str) -> bytes:
    return f"jpki.responder_key:{kind}".encode()


def _new_signer(config: CaConfig, kind: Kind, label: str) -> Signer:
    if config.pkcs11_module:
        if config.pkcs11_pin is None:
            raise ValueError("OPENMYNA_JPKI_PKCS11_PIN is required with OPENMYNA_JPKI_PKCS11_MODULE")
        return Pkcs11Signer.generate(config.pkcs11_module, config.pkcs11_token, config.pkcs11_pin, label)
    return FileSigner.generate(config.key_dir / f"{label}.p8", config.keys.jpki_key_passphrase)


def create_authority(session: Session, *, config: CaConfig, kind: Kind) -> Authority:
    """Generate the CA key (file or token), its self-signed certificate and its OCSP responder."""
    now = clock.now()
    label = f"jpki-{kind}-ca-{now.strftime('%Y%m%d')}-{secrets.token_hex(6)}"
    signer = _new_signer(config, kind, label)
    ca_certificate = sign_certificate(profiles.ca_builder(kind, signer.public_key(), now=now), signer)
    responder_key = ec.generate_private_key(ec.SECP256R1())
    responder = sign_certificate(
        profiles.responder_builder(kind, ca_certificate, responder_key.public_key(), now=now), signer
    )
    sealed = config.keys.seal(
        responder_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        context=_responder_context(kind),
    )
    loaded = LoadedAuthority(0, kind, ca_certificate, signer, responder, responder_key)
    name_hash, key_hash = loaded.cert_id_hashes(hashes.SHA1())
    authority = Authority(
        kind=kind,
        certificate_der=ca_certificate.public_bytes(serialization.Encoding.DER),
        signer_ref=signer.ref,
        responder_certificate_der=responder.public_bytes(serialization.Encoding.DER),
        responder_key_sealed=sealed,
        name_hash_sha1=name_hash,
        key_hash_sha1=key_hash,
        crl_number=0,
        created_at=now,
    )
    session.add(authority)
    session.flush()
    return authority


def ensure_authorities(session: Session, *, config: CaConfig) -> dict[Kind, Authority]:
    """Both CAs, created on first use (idempotent)."""
    existing = {a.kind: a for a in session.scalars(select(Authority))}
    for kind in KINDS:
        if kind not in existing:
            existing[kind] = create_authority(session, config=config, kind=kind)
    return existing  # type: ignore[return-value]


_loaded: dict[tuple[int, bytes], LoadedAuthority] = {}
_lock = threading.Lock()


def load(config: CaConfig, authority: Authority) -> LoadedAuthority:
    """Parse and open an authority once per process (keyed by its certificate, so a new CA reloads)."""
    cache_key = (authority.id, hashlib.sha256(authority.certificate_der).digest())
    with _lock:
        found = _loaded.get(cache_key)
    if found is not None:
        return found
    signer = open_signer(
        authority.signer_ref,
        passphrase=config.keys.jpki_key_passphrase,
        pkcs11_module=config.pkcs11_module,
        pkcs11_pin=config.pkcs11_pin,
    )
    key = serialization.load_der_private_key(
        config.keys.open(authority.responder_key_sealed, context=_responder_context(authority.kind)), password=None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    loaded = LoadedAuthority(
        authority.id,
        authority.kind,  # type: ignore[arg-type]
        x509.load_der_x509_certificate(authority.certificate_der),
        signer,
        x509.load_der_x509_certificate(authority.responder_certificate_der),
        key,
    )
    with _lock:
        _loaded[cache_key] = loaded
    return loaded


def loaded_authority(session: Session, *, config: CaConfig, kind: Kind) -> LoadedAuthority:
    """The CA of ``kind``; looked up once per session (kept in ``session.info``), parsed once per process."""
    cache: dict[str, LoadedAuthority] = session.info.setdefault("jpki_authorities", {})
    found = cache.get(kind)
    if found is None:
        found = cache[kind] = load(config, ensure_authorities(session, config=config)[kind])
    return found
