"""Where the CA's private keys live: an encrypted PKCS#8 file (default) or a PKCS#11 token (an HSM).

Certificates and CRLs are always built with ``cryptography``. With an in-process key the builder signs
directly; with a key that cannot leave its token, the builder signs a draft with a throwaway key, the
token signs the draft's to-be-signed bytes, and asn1crypto swaps in the real signature.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_SIZE = 2048


class SignerError(Exception):
    """The signer cannot be reached or refuses (missing file, wrong passphrase, token absent)."""


class Signer(ABC):
    """An RSA-2048 key that signs SHA-256 PKCS#1 v1.5 and never shows its private half to callers."""

    ref: str

    @abstractmethod
    def public_key(self) -> rsa.RSAPublicKey: ...

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 over SHA-256 of ``data``."""

    def in_process_key(self) -> rsa.RSAPrivateKey | None:
        """The key object when it lives in this process (lets builders sign directly); None for tokens."""
        return None


class FileSigner(Signer):
    """A key in an encrypted PKCS#8 PEM file; loaded once per process."""

    def __init__(self, path: Path, passphrase: bytes) -> None:
        self.path = path
        self.ref = "file:" + quote(str(path))
        self._key = _load_pkcs8(str(path), passphrase)

    @classmethod
    def generate(cls, path: Path, passphrase: bytes) -> FileSigner:
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return cls(path, passphrase)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def in_process_key(self) -> rsa.RSAPrivateKey:
        return self._key


@cache
def _load_pkcs8(path: str, passphrase: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=passphrase)
    except (OSError, ValueError, TypeError) as exc:
        raise SignerError(f"cannot load the CA key file {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SignerError(f"{path} does not hold an RSA key")
    return key


class Pkcs11Signer(Signer):
    """A key on a PKCS#11 token (SoftHSM2 in tests, any HSM in production), used through python-pkcs11."""

    def __init__(self, module: str, token_label: str, pin: str, key_label: str) -> None:
        self.module, self.token_label, self.key_label = module, token_label, key_label
        self.ref = f"pkcs11:token={quote(token_label)};object={quote(key_label)}"
        self._session = _token_session(module, token_label, pin)
        self._lock = _session_lock(module, token_label)
        import pkcs11

        with self._lock:
            try:
                self._private = self._session.get_key(
                    object_class=pkcs11.ObjectClass.PRIVATE_KEY, key_type=pkcs11.KeyType.RSA, label=key_label
                )
                public = self._session.get_key(
                    object_class=pkcs11.ObjectClass.PUBLIC_KEY, key_type=pkcs11.KeyType.RSA, label=key_label
                )
            except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned) as exc:
                raise SignerError(f"no single RSA key {key_label!r} on token {token_label!r}") from exc
            modulus = int.from_bytes(public[pkcs11.Attribute.MODULUS], "big")
            exponent = int.from_bytes(public[pkcs11.Attribute.PUBLIC_EXPONENT], "big")
        self._public = rsa.RSAPublicNumbers(exponent, modulus).public_key()

    @classmethod
    def generate(cls, module: str, token_label: str, pin: str, key_label: str) -> Pkcs11Signer:
        """Generate a non-extractable RSA-2048 pair on the token."""
        import pkcs11

        session = _token_session(module, token_label, pin)
        with _session_lock(module, token_label):
            session.generate_keypair(
                pkcs11.KeyType.RSA,
                KEY_SIZE,
                label=key_label,
                store=True,
                private_template={pkcs11.Attribute.EXTRACTABLE: False, pkcs11.Attribute.SENSITIVE: True},
            )
        return cls(module, token_label, pin, key_label)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        import pkcs11

        with self._lock:
            return bytes(self._private.sign(data, mechanism=pkcs11.Mechanism.SHA256_RSA_PKCS))


_sessions: dict[tuple[str, str], Any] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_guard = threading.Lock()


def _session_lock(module: str, token_label: str) -> threading.Lock:
    with _guard:
        return _locks.setdefault((module, token_label), threading.Lock())


def _token_session(module: str, token_label: str, pin: str) -> Any:
    """One logged-in read-write session per token and process (PKCS#11 logins are per application)."""
    import pkcs11

    with _guard:
        session = _sessions.get((module, token_label))
        if session is None:
            try:
                token = pkcs11.lib(module).get_token(token_label=token_label)
                session = token.open(user_pin=pin, rw=True)
            except (pkcs11.PKCS11Error, RuntimeError) as exc:
                raise SignerError(f"cannot open PKCS#11 token {token_label!r} via {module}: {exc!r}") from exc
            _sessions[(module, token_label)] = session
        return session


def open_signer(ref: str, *, passphrase: bytes, pkcs11_module: str | None, pkcs11_pin: str | None) -> Signer:
    """The signer a stored reference names (``file:<path>`` or ``pkcs11:token=…;object=…``)."""
    if ref.startswith("file:"):
        return FileSigner(Path(unquote(ref[5:])), passphrase)
    if ref.startswith("pkcs11:"):
        if not pkcs11_module or pkcs11_pin is None:
            raise SignerError("a PKCS#11 CA key needs OPENMYNA_JPKI_PKCS11_MODULE and OPENMYNA_JPKI_PKCS11_PIN")
        attributes = dict(part.split("=", 1) for part in ref[7:].split(";"))
        return Pkcs11Signer(pkcs11_module, unquote(attributes["token"]), pkcs11_pin, unquote(attributes["object"]))
    raise SignerError(f"unknown signer reference {ref!r}")


@cache
def _draft_key() -> rsa.RSAPrivateKey:
    """Signs drafts whose signature is replaced; never trusted for anything."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def sign_certificate(builder: x509.CertificateBuilder, signer: Signer) -> x509.Certificate:
    """Build and sign a certificate with SHA-256 RSA, whichever backend holds the key."""
    key = signer.in_process_key()
    if key is not None:
        return builder.sign(key, hashes.SHA256())
    draft = asn1_x509.Certificate.load(
        builder.sign(_draft_key(), hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    )
    draft["signature_value"] = signer.sign(draft["tbs_certificate"].dump())
    return x509.load_der_x509_certificate(draft.dump())


def sign_crl(builder: x509.CertificateRevocationListBuilder, signer: Signer) -> x509.CertificateRevocationList:
    """Build and sign a CRL with SHA-256 RSA, whichever backend holds the key."""
    key = signer.in_process_key()
    if key is not None:
        return builder.sign(key, hashes.SHA256())
    draft = asn1_crl.CertificateList.load(
        builder.sign(_draft_key(), hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    )
    draft["signature"] = signer.sign(draft["tbs_cert_list"].dump())
    return x509.load_der_x509_crl(draft.dump())
