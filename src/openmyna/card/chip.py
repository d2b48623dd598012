"""The virtual IC chip: JPKI AP, 券面事項入力補助 AP and free space, with PIN counters the chip enforces.

Private keys are generated on the chip and never leave it: the chip hands out CSRs, certificates and
signatures only. The whole state is one JSON document that the card service seals with the KeyRing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from openmyna.core.errors import Conflict, DomainError, InvalidInput, NotFound

KeyKind = Literal["sign", "auth"]
PinApp = Literal["sign", "auth", "face"]
MAX_TRIES: dict[str, int] = {"auth": 3, "sign": 5, "face": 3}
FREE_SPACE_APPS = 8
_AUTH_PIN = re.compile(r"[0-9]{4}")
_SIGN_PIN = re.compile(r"[A-Z0-9]{6,16}")


class ChipError(DomainError):
    """Raised by the chip; PIN counters it changed are kept even though the operation failed."""


class WrongPin(ChipError):
    slug = "card-wrong-pin"
    status = 403
    title_ja = "暗証番号が違います"
    title_en = "Wrong PIN"


class PinLocked(ChipError):
    slug = "card-pin-locked"
    status = 423
    title_ja = "暗証番号がロックされています（窓口で初期化してください）"
    title_en = "PIN locked; reset it at the municipal counter"


class PinNotSet(ChipError, Conflict):
    slug = "card-pin-not-set"
    title_ja = "暗証番号が設定されていません"
    title_en = "No PIN has been set"


class BadPinFormat(ChipError, InvalidInput):
    slug = "card-bad-pin-format"
    title_ja = "暗証番号の形式が正しくありません"
    title_en = "The PIN does not have the required form"


class NoCertificate(ChipError, NotFound):
    slug = "card-no-certificate"
    title_ja = "電子証明書が搭載されていません"
    title_en = "No certificate of that kind on the card"


def check_pin_format(app: PinApp, pin: str) -> None:
    """auth and face: 4 digits; sign: 6–16 characters A–Z and 0–9."""
    pattern = _SIGN_PIN if app == "sign" else _AUTH_PIN
    if not isinstance(pin, str) or not pattern.fullmatch(pin):
        rule = "6–16 characters A–Z and 0–9" if app == "sign" else "4 digits"
        raise BadPinFormat(f"the {app} PIN must be {rule}", app=app)


def _pin_record(pin: str) -> dict[str, str]:
    salt = os.urandom(16)
    return {"salt": salt.hex(), "hash": hashlib.sha256(salt + pin.encode()).hexdigest()}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Chip:
    """One card's chip. Every method that takes a PIN decrements the counter on failure and locks at zero."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    @classmethod
    def blank(cls, *, card_id: int) -> Chip:
        pins = {app: {"pin": None, "tries": MAX_TRIES[app]} for app in MAX_TRIES}
        return cls({"card_id": card_id, "pins": pins, "keys": {}, "certs": {}, "face": {}, "free": {}})

    # PINs ---------------------------------------------------------------------------------------
    def tries_left(self, app: PinApp) -> int:
        return int(self.state["pins"][app]["tries"])

    def set_pin(self, app: PinApp, pin: str) -> None:
        """Set (at hand-over) or reset (at the counter, after an identity check) a PIN; unlocks it."""
        check_pin_format(app, pin)
        self.state["pins"][app] = {"pin": _pin_record(pin), "tries": MAX_TRIES[app]}

    def verify_pin(self, app: PinApp, pin: str) -> None:
        record = self.state["pins"][app]
        if record["pin"] is None:
            raise PinNotSet(f"the card has no {app} PIN yet (set at hand-over)")
        if record["tries"] <= 0:
            raise PinLocked(f"the {app} PIN is locked", app=app, tries_left=0)
        digest = hashlib.sha256(bytes.fromhex(record["pin"]["salt"]) + str(pin).encode()).hexdigest()
        if not hmac.compare_digest(digest, record["pin"]["hash"]):
            record["tries"] -= 1
            if record["tries"] == 0:
                raise PinLocked(f"wrong {app} PIN; it is now locked", app=app, tries_left=0)
            raise WrongPin(f"wrong {app} PIN; {record['tries']} tries left", app=app, tries_left=record["tries"])
        record["tries"] = MAX_TRIES[app]

    # JPKI AP -------------------------------------------------------------------------------------
    def generate_key(self, kind: KeyKind, *, key: rsa.RSAPrivateKey | None = None) -> bytes:
        """Make a fresh RSA-2048 pair on the chip (dropping the old one) and return a DER CSR for it."""
        key = key or new_key()
        self.state["keys"][kind] = _b64(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.state["certs"].pop(kind, None)
        csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.DER)

    def _key(self, kind: KeyKind) -> rsa.RSAPrivateKey:
        # The chip made this key and its state is sealed (authenticated) by the KeyRing: the RSA consistency
        # check, about 100 ms a signature under load, proves nothing more here.
        key = serialization.load_der_private_key(
            base64.b64decode(self.state["keys"][kind]), password=None, unsafe_skip_rsa_key_validation=True
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def install_certificate(self, kind: KeyKind, der: bytes) -> None:
        """Store a certificate only if it certifies this chip's own key of that kind."""
        if kind not in self.state["keys"]:
            raise NoCertificate(f"the chip has no {kind} key to certify")
        cert = x509.load_der_x509_certificate(der)
        if cert.public_key() != self._key(kind).public_key():
            raise Conflict(f"the {kind} certificate is not for the key on this chip")
        self.state["certs"][kind] = _b64(der)

    def drop_certificate(self, kind: KeyKind) -> None:
        self.state["certs"].pop(kind, None)
        self.state["keys"].pop(kind, None)

    def has_certificate(self, kind: KeyKind) -> bool:
        return kind in self.state["certs"]

    def certificate(self, kind: KeyKind, *, pin: str | None = None) -> bytes:
        """The auth certificate is readable freely; the signing one (it carries the four facts) needs its PIN."""
        if kind == "sign":
            self.verify_pin("sign", pin or "")
        if kind not in self.state["certs"]:
            raise NoCertificate(f"no {kind} certificate on this card")
        return base64.b64decode(self.state["certs"][kind])

    def sign(self, kind: KeyKind, pin: str, *, data: bytes | None = None, digest: bytes | None = None) -> bytes:
        """RSASSA-PKCS1-v1_5/SHA-256 over ``data``, or over a precomputed SHA-256 ``digest``."""
        if (data is None) == (digest is None):
            raise InvalidInput("give either data or a SHA-256 digest to sign")
        if digest is not None and len(digest) != 32:
            raise InvalidInput("a document digest is 32 bytes (SHA-256)")
        if kind not in self.state["certs"]:
            raise NoCertificate(f"no {kind} certificate on this card")
        self.verify_pin(kind, pin)
        key = self._key(kind)
        if digest is not None:
            return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        assert data is not None
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    # 券面事項入力補助 AP ----------------------------------------------------------------------------
    def write_face(self, *, my_number: str, name: str, address: str, birth_date: str, sex: str) -> None:
        self.state["face"] = {
            "my_number": my_number,
            "name": name,
            "address": address,
            "birth_date": birth_date,
            "sex": sex,
        }

    def read_face(self, pin: str) -> dict[str, str]:
        self.verify_pin("face", pin)
        return dict(self.state["face"])

    # free space -----------------------------------------------------------------------------------
    def install_app(self, name: str, *, issuer: str, data: dict[str, str]) -> None:
        apps = self.state["free"]
        if name not in apps and len(apps) >= FREE_SPACE_APPS:
            raise Conflict(f"the free space holds at most {FREE_SPACE_APPS} applications")
        apps[name] = {"issuer": issuer, "data": dict(data)}

    def read_app(self, name: str) -> dict[str, Any]:
        if name not in self.state["free"]:
            raise NotFound(f"no application {name!r} in the free space")
        return dict(self.state["free"][name])

    def remove_app(self, name: str, *, issuer: str) -> None:
        app = self.read_app(name)
        if app["issuer"] != issuer:
            raise Conflict(f"{name!r} belongs to {app['issuer']}; only its issuer may remove it")
        del self.state["free"][name]


def new_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 pair, as the chip makes one."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class KeysAhead:
    """RSA-2048 pairs made ahead of need on a background thread (the generation releases the GIL), for a run
    that sets up many cards (the demo seeder): the first ``count`` are made while the caller does other work,
    and handed out in order; any beyond them are made on demand. Use as a context manager: leftovers are
    dropped on exit."""

    def __init__(self, count: int) -> None:
        self._maker = ThreadPoolExecutor(1, thread_name_prefix="card-keys")
        self._ahead: deque[Future[rsa.RSAPrivateKey]] = deque(self._maker.submit(new_key) for _ in range(count))

    def __call__(self) -> rsa.RSAPrivateKey:
        return self._ahead.popleft().result() if self._ahead else new_key()

    def __enter__(self) -> KeysAhead:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._ahead.clear()
        self._maker.shutdown(wait=False, cancel_futures=True)


KeySource = Callable[[], rsa.RSAPrivateKey]
