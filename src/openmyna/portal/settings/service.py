"""Account settings: nickname, an e-mail address verified by a signed, expiring, single-use link, and
which kinds of notice are announced by e-mail.

The link carries ``itsdangerous``-signed ``(verification id, nonce)``; the row keeps only the nonce's
SHA-256, the address it was sent to, when it expires and when it was used. A link opens once, before
it expires, and only the newest link of a person counts (asking again supersedes the older ones).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openmyna.core import audit
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import DomainError, InvalidInput
from openmyna.core.timefmt import as_utc
from openmyna.core.validation import unsafe_character
from openmyna.portal.notices.models import NOTICE_KINDS
from openmyna.portal.notices.service import now_utc
from openmyna.portal.settings.models import AccountSettings, EmailVerification

MAX_NICKNAME = 40
MAX_EMAIL = 254
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
DEFAULT_MAIL_KINDS = ("deadline_reminder", "decision", "payment_request")
_SALT = "portal-email-verification"


class LinkInvalid(DomainError):
    slug = "verification-link-invalid"
    status = 400
    title_ja = "確認リンクが正しくありません"
    title_en = "The verification link is not valid"


class LinkExpired(DomainError):
    slug = "verification-link-expired"
    status = 410
    title_ja = "確認リンクの有効期限が切れています"
    title_en = "The verification link has expired"


class LinkUsed(DomainError):
    slug = "verification-link-used"
    status = 410
    title_ja = "確認リンクは使用済みです"
    title_en = "The verification link has already been used"


def settings_of(session: Session, *, subject: str) -> AccountSettings:
    """The person's settings (defaults, not stored, when they never saved any)."""
    found = session.get(AccountSettings, subject)
    if found is not None:
        return found
    return AccountSettings(subject=subject, nickname="", email="", mail_kinds=" ".join(DEFAULT_MAIL_KINDS))


def _stored(session: Session, subject: str) -> AccountSettings:
    found = session.get(AccountSettings, subject)
    if found is None:
        found = AccountSettings(
            subject=subject, nickname="", email="", mail_kinds=" ".join(DEFAULT_MAIL_KINDS), updated_at=now_utc()
        )
        session.add(found)
    return found


def _changed(session: Session, subject: str, what: str) -> None:
    audit.record_access(
        session, subject=subject, actor_org="portal", actor=subject, action="settings.changed", purpose=what
    )


def set_nickname(session: Session, *, subject: str, nickname: str) -> None:
    nickname = nickname.strip()
    if len(nickname) > MAX_NICKNAME:
        raise InvalidInput(f"a nickname is at most {MAX_NICKNAME} characters", field="nickname")
    bad = unsafe_character(nickname)
    if bad:
        raise InvalidInput(f"the nickname contains {bad}", field="nickname")
    row = _stored(session, subject)
    row.nickname, row.updated_at = nickname, now_utc()
    _changed(session, subject, "nickname")


def set_mail_kinds(session: Session, *, subject: str, kinds: set[str]) -> None:
    unknown = kinds - set(NOTICE_KINDS)
    if unknown:
        raise InvalidInput(f"unknown notice kinds: {', '.join(sorted(unknown))}", field="kinds")
    row = _stored(session, subject)
    row.mail_kinds, row.updated_at = " ".join(k for k in NOTICE_KINDS if k in kinds), now_utc()
    _changed(session, subject, "mail-kinds")


def normalise_email(address: str) -> str:
    address = address.strip()
    if not address or len(address) > MAX_EMAIL or not EMAIL_PATTERN.match(address):
        raise InvalidInput("enter an e-mail address such as taro@example.jp (at most 254 characters)", field="email")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def _serializer(keys: KeyRing) -> URLSafeSerializer:
    return URLSafeSerializer(keys.session_secret, salt=_SALT)


def request_verification(
    session: Session, *, keys: KeyRing, subject: str, email: str, ttl: dt.timedelta
) -> tuple[str, str]:
    """Start verifying ``email``: ``(address, token)`` for the link. Older unused links stop working."""
    address = normalise_email(email)
    now = now_utc()
    session.execute(
        update(EmailVerification)
        .where(EmailVerification.subject == subject, EmailVerification.used_at.is_(None))
        .values(expires_at=now)
    )
    nonce = secrets.token_urlsafe(24)
    row = EmailVerification(
        subject=subject,
        email=address,
        nonce_hash=hashlib.sha256(nonce.encode()).hexdigest(),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    _changed(session, subject, "email-verification-sent")
    return address, _serializer(keys).dumps({"v": row.id, "n": nonce})


def verify(session: Session, *, keys: KeyRing, token: str) -> AccountSettings:
    """Spend a verification link: the address becomes the person's verified address."""
    try:
        data = _serializer(keys).loads(token[:512])
        verification_id, nonce = int(data["v"]), str(data["n"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkInvalid("the link is damaged or was not issued by this portal; ask for a new one") from exc
    row = session.scalar(select(EmailVerification).where(EmailVerification.id == verification_id).with_for_update())
    if row is None or not secrets.compare_digest(row.nonce_hash, hashlib.sha256(nonce.encode()).hexdigest()):
        raise LinkInvalid("the link is damaged or was not issued by this portal; ask for a new one")
    if row.used_at is not None:
        raise LinkUsed("this link was already used; the address is verified if it was you who opened it")
    now = now_utc()
    if as_utc(row.expires_at) <= now:
        raise LinkExpired("the link has expired or a newer one was sent; ask for a new one on the settings page")
    row.used_at = now
    settings = _stored(session, row.subject)
    settings.email, settings.email_verified_at, settings.updated_at = row.email, now, now
    _changed(session, row.subject, "email-verified")
    return settings


def pending_address(session: Session, *, subject: str) -> str | None:
    """The address of the person's newest link still waiting to be opened, if any."""
    row = session.scalar(
        select(EmailVerification)
        .where(EmailVerification.subject == subject, EmailVerification.used_at.is_(None))
        .order_by(EmailVerification.id.desc())
        .limit(1)
    )
    if row is None or as_utc(row.expires_at) <= now_utc():
        return None
    return row.email


def remove_email(session: Session, *, subject: str) -> None:
    row = _stored(session, subject)
    row.email, row.email_verified_at, row.updated_at = "", None, now_utc()
    _changed(session, subject, "email-removed")
