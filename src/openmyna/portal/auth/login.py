"""Card and QR logins: a single-use challenge bound to one browser, signed by the card's authentication key.

1. :func:`open_transaction` gives a browser a random token (the card challenge, or the QR code's URL) and
   keeps only its SHA-256 and the SHA-256 of a secret the browser keeps in its signed session cookie.
2. The card signs :func:`challenge_bytes` of the token (which also names the site, so a challenge cannot
   be relayed from another site) with its authentication key, after the chip checks the PIN.
3. :func:`sign_in` checks the signature, the certificate's chain, dates, kind, policy and status through
   the platform's validity service (:func:`openmyna.jpki.verify.verify_signature`), finds the card that
   holds the certificate and its holder, and marks the transaction ``signed``.
4. :func:`take` hands the resident to the browser holding the secret, once: the caller then starts the
   session (``service.begin``) or refreshes it (``service.reauthenticated``).

The card on this computer needs no row until it is used: :func:`card_challenge` makes a self-describing
token (a nonce, its expiry and purpose, and a MAC under the platform's key) that the browser keeps in its
signed session cookie, and :func:`sign_in_here` records the transaction, already ``done``, in the same
write as the session, so a login takes the database's writer once, not twice. The token's hash stays
unique in the table, so a second use is still refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.card.models import Card
from openmyna.core import clock, tokens
from openmyna.core.crypto import KeyRing
from openmyna.core.db import SWEEPS
from openmyna.core.errors import Conflict, DomainError, Forbidden, NotFound
from openmyna.jpki.ocsp import Responder
from openmyna.jpki.verify import LoginRefused, verify_signature
from openmyna.portal.auth.models import DONE, FAILED, PENDING, SIGNED, LoginTransaction

TTL = dt.timedelta(minutes=2)
PREFIX = b"openmyna portal login v1|"
Method = Literal["card", "qr"]
Purpose = Literal["login", "reauth"]
FAILURES = ("wrong-pin", "locked")
CARD_TOKEN_KEY = "portal-card-challenge/v1"
_PURPOSES: dict[str, bytes] = {"login": b"l", "reauth": b"r"}


class LoginExpired(DomainError):
    slug = "portal-login-expired"
    status = 410
    title_ja = "ログインの有効期限（2分）が切れました。もう一度やり直してください"
    title_en = "The login expired (2 minutes); start again"


class LoginUsed(Conflict):
    slug = "portal-login-used"
    title_ja = "このログイン用コードは使用済みです"
    title_en = "This login code has already been used"


class LoginUnknown(NotFound):
    slug = "portal-login-unknown"
    title_ja = "ログイン用コードが見つかりません"
    title_en = "No such login code"


class NotThisBrowser(Forbidden):
    slug = "portal-login-other-browser"
    title_ja = "このログインは別のブラウザで開始されました"
    title_en = "This login was started in another browser"


class CardRefused(LoginRefused):
    """The certificate verified but no card in use holds it as its current authentication certificate."""

    slug = "portal-card-refused"
    title_ja = "このカードではログインできません"
    title_en = "This card cannot be used to log in"


@dataclass(frozen=True)
class Opened:
    token: str  # the challenge token (card) or the QR URL's token
    browser_secret: str  # kept in the browser's signed session cookie
    expires_at: dt.datetime


@dataclass(frozen=True)
class Identity:
    resident_id: int
    subject: str
    method: str
    purpose: str


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _now() -> dt.datetime:
    return clock.now().astimezone(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def challenge_bytes(site: str, token: str) -> bytes:
    """What the card signs: a fixed prefix, the site's base URL and the token."""
    return PREFIX + site.rstrip("/").encode() + b"|" + token.encode()


def token_of(site: str, challenge: bytes) -> str:
    """The token inside a challenge for this site (else a refusal: a challenge of another site or form)."""
    head = PREFIX + site.rstrip("/").encode() + b"|"
    if not challenge.startswith(head):
        raise LoginRefused("the challenge was not issued by this site")
    token = challenge[len(head) :]
    if not 20 <= len(token) <= 64 or not token.isascii():
        raise LoginRefused("the challenge was not issued by this site")
    return token.decode()


def open_transaction(
    session: Session, *, method: Method, purpose: Purpose = "login", browser_secret: str | None = None
) -> Opened:
    """A fresh single-use token for one browser; expired transactions are dropped on the way (every few seconds)."""
    now = _now()
    SWEEPS.drop_older(session, LoginTransaction.expires_at, now - TTL, now)
    token, secret = secrets.token_urlsafe(24), browser_secret or secrets.token_urlsafe(24)
    expires = now + TTL
    session.add(
        LoginTransaction(
            token_hash=_digest(token),
            browser_hash=_digest(secret),
            method=method,
            purpose=purpose,
            state=PENDING,
            created_at=now,
            expires_at=expires,
            failure="",
        )
    )
    session.flush()
    return Opened(token, secret, expires)


def card_challenge(keys: KeyRing, *, purpose: Purpose = "login") -> Opened:
    """A fresh card challenge that needs no row: nonce, expiry and purpose under the platform's MAC."""
    expires = _now().replace(microsecond=0) + TTL
    token = tokens.issue(keys, CARD_TOKEN_KEY, expires_at=expires, payload=_PURPOSES[purpose])
    return Opened(token, secrets.token_urlsafe(24), expires)


@dataclass(frozen=True)
class _CardToken:
    expires_at: dt.datetime
    purpose: Purpose


def _card_token(keys: KeyRing, token: str) -> _CardToken:
    """What a card challenge's token says, or :class:`LoginUnknown` when this platform did not make it."""
    purposes = {code: name for name, code in _PURPOSES.items()}
    try:
        claims = tokens.read(keys, CARD_TOKEN_KEY, token)
    except tokens.UnknownToken as exc:
        raise LoginUnknown("no login with this code") from exc
    purpose = purposes.get(claims.payload)
    if purpose is None:
        raise LoginUnknown("no login with this code")
    return _CardToken(claims.expires_at, purpose)  # type: ignore[arg-type]


def select_by_token(token: str) -> Select[tuple[LoginTransaction]]:
    return select(LoginTransaction).where(LoginTransaction.token_hash == _digest(token))


def _find(session: Session, token: str, *, lock: bool = False) -> LoginTransaction:
    query = select_by_token(token)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise LoginUnknown("no login with this code (it may have been used and cleared)")
    return row


def _usable(row: LoginTransaction) -> None:
    if row.state in (SIGNED, DONE):
        raise LoginUsed("this login code has already been used; start a new login")
    if row.state == FAILED:
        raise LoginUsed(f"this login ended: {row.failure or 'failed'}; start a new login", failure=row.failure)
    if _now() >= _aware(row.expires_at):
        raise LoginExpired("the login code is older than 2 minutes; start a new login")


def challenge_for(session: Session, *, token: str, site: str) -> tuple[bytes, dt.datetime]:
    """The bytes a phone app signs for the QR token (refused when used or expired)."""
    row = _find(session, token)
    _usable(row)
    return challenge_bytes(site, token), _aware(row.expires_at)


def holder_of(session: Session, *, serial: str) -> Card:
    """The card in use whose current authentication certificate has ``serial`` (how the CA names holders)."""
    try:
        return cards.in_use_with_auth(session, serial=serial)
    except cards.CardNotFound as exc:
        raise CardRefused(exc.detail) from exc
    except DomainError as exc:
        raise CardRefused(f"the card is not in use ({exc.detail})") from exc


def sign_in(
    session: Session,
    *,
    responder: Responder,
    site: str,
    token: str,
    certificate: bytes,
    signature: bytes,
    method: Method,
) -> LoginTransaction:
    """Accept the card's signature over the token's challenge: the transaction becomes ``signed``.

    Every check happens before anything changes, so a refused attempt leaves the transaction usable
    (a wrong card can be followed by the right one within the two minutes).
    """
    row = _find(session, token, lock=True)
    if row.method != method:
        raise LoginUnknown("no login of this kind with this code")
    _usable(row)
    verified = verify_signature(
        responder, certificate_der=certificate, data=challenge_bytes(site, token), signature=signature, kind="auth"
    )
    card = holder_of(session, serial=verified.serial)
    row.state, row.resident_id, row.subject, row.card_id = SIGNED, card.resident_id, card.subject, card.id
    row.failure, row.tries_left = "", None
    return row


def sign_in_here(
    session: Session,
    *,
    keys: KeyRing,
    responder: Responder,
    site: str,
    token: str,
    held: tuple[str, str] | None,
    certificate_b64: str,
    signature_b64: str,
) -> Identity:
    """The card on this computer: the card's signature over :func:`card_challenge`'s token, for the browser that
    ``held`` it (token and secret from its signed cookie); certificate and signature as posted (base64).

    The refusals come in the order the two-step logins give them (unknown, used or expired first, then another
    browser's challenge, then the card). The card's signature, chain and status are checked before the first
    statement: on SQLite that statement takes the database's single writer, which is then held only for the
    few statements that follow. The transaction is recorded ``done`` here; its unique token hash refuses a
    second use, also a concurrent one.
    """
    claims = _card_token(keys, token)
    refused: LoginRefused | None = None
    verified = None
    try:
        verified = verify_signature(
            responder,
            certificate_der=b64decode(certificate_b64, field="certificate"),
            data=challenge_bytes(site, token),
            signature=b64decode(signature_b64, field="signature"),
            kind="auth",
        )
    except LoginRefused as exc:
        refused = exc
    now = _now()
    if session.scalar(select(LoginTransaction.id).where(LoginTransaction.token_hash == _digest(token))) is not None:
        raise LoginUsed("this login code has already been used; start a new login")
    if now >= claims.expires_at:
        raise LoginExpired("the login code is older than 2 minutes; start a new login")
    if held is None or held[0] != token:
        raise NotThisBrowser("this challenge was not issued to this browser")
    if refused is not None:
        raise refused
    assert verified is not None
    card = holder_of(session, serial=verified.serial)
    SWEEPS.drop_older(session, LoginTransaction.expires_at, now - TTL, now)
    try:
        with session.begin_nested():
            session.add(
                LoginTransaction(
                    token_hash=_digest(token),
                    browser_hash=_digest(held[1]),
                    method="card",
                    purpose=claims.purpose,
                    state=DONE,
                    created_at=now,
                    expires_at=claims.expires_at,
                    resident_id=card.resident_id,
                    subject=card.subject,
                    card_id=card.id,
                    failure="",
                )
            )
    except IntegrityError:  # a concurrent request used it first
        raise LoginUsed("this login code has already been used; start a new login") from None
    return Identity(card.resident_id, card.subject, "card", claims.purpose)


def report_failure(session: Session, *, token: str, failure: str, tries_left: int | None) -> None:
    """The phone app says the chip refused the PIN; a locked PIN ends the transaction."""
    row = _find(session, token, lock=True)
    _usable(row)
    row.failure, row.tries_left = failure, tries_left
    if failure == "locked":
        row.state = FAILED


@dataclass(frozen=True)
class Status:
    state: str  # pending | signed | done | failed | expired
    failure: str
    tries_left: int | None
    expires_at: dt.datetime


def status(session: Session, *, token: str, browser_secret: str) -> Status:
    """Where the browser's transaction stands (only for the browser that started it)."""
    row = _find(session, token)
    _check_browser(row, browser_secret)
    state = row.state
    if state == PENDING and _now() >= _aware(row.expires_at):
        state = "expired"
    return Status(state, row.failure, row.tries_left, _aware(row.expires_at))


def _check_browser(row: LoginTransaction, browser_secret: str) -> None:
    if not hmac.compare_digest(row.browser_hash, _digest(browser_secret)):
        raise NotThisBrowser("the login belongs to the browser that showed the code")


def take(session: Session, *, token: str, browser_secret: str) -> Identity:
    """Hand the signed-in resident to the browser that started the transaction, exactly once."""
    row = _find(session, token)
    _check_browser(row, browser_secret)
    if row.state == PENDING:
        _usable(row)
        raise Conflict("the card has not signed this login yet", state="pending")
    if row.state != SIGNED:
        _usable(row)
    if _now() >= _aware(row.expires_at) + TTL:
        raise LoginExpired("the signed login was not continued in time; start a new login")
    taken = session.execute(
        update(LoginTransaction)
        .where(LoginTransaction.id == row.id, LoginTransaction.state == SIGNED)
        .values(state=DONE)
        .returning(LoginTransaction.id),
        execution_options={"synchronize_session": False},
    ).first()
    if taken is None:  # a concurrent request took it first
        raise LoginUsed("this login code has already been used; start a new login")
    assert row.resident_id is not None and row.subject is not None
    return Identity(row.resident_id, row.subject, row.method, row.purpose)


def b64decode(value: str, *, field: str) -> bytes:
    """Strict base64 or a refusal naming the field."""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise LoginRefused(f"{field}: not base64") from exc
