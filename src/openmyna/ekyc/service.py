"""Private identity verification through a platform operator (公的個人認証の民間利用, プラットフォーム事業者).

A platform operator holds the verifier registration and registers private businesses (a bank, a phone
company), each with the facts of the signing certificate it may receive. A business's system:

1. asks :func:`open_challenge` for a fresh single-use challenge that names the business and the purpose
   (``account_opening`` or ``login``);
2. has the card sign: for an account opening, the challenge, a newline and the application text with the
   signing key (its 6–16 character PIN); for a login, the challenge with the authentication key;
3. sends the signature and certificate: :func:`verify` has the operator check the certificate through the
   platform's validity service and the signature, and release only the facts the business is registered for;
   :func:`login` answers the business's own pseudonym of the holder (pairwise, stable across card renewal);
4. later asks :func:`status` whether the signing certificate it verified was revoked or replaced (the
   customer moved), and by which certificate, with the new certificate's facts as far as it may see them.

Every request, answered or refused, is a :class:`~openmyna.ekyc.models.Use` row of the business; every
answer about a holder is an access event the holder sees. A refusal changes nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from openmyna.ekyc.models import Business, Challenge, Use, Verification
from openmyna.jpki import service as jpki
from openmyna.jpki.ocsp import Responder
from openmyna.jpki.profiles import SEX_CODES, facts_in
from openmyna.jpki.verify import LoginRefused, verify_signature
from openmyna.numbers.protection import pairwise_subject
from openmyna.orgs import service as orgs

FACTS: tuple[str, ...] = ("name", "birth_date", "sex", "address")
BUSINESS_KINDS: tuple[str, ...] = ("bank", "securities", "phone", "other")
Purpose = Literal["account_opening", "login"]
PURPOSES: tuple[str, ...] = ("account_opening", "login")
TTL = dt.timedelta(minutes=3)  # shorter than a business's access token, so both expiries can be met
PREFIX = b"openmyna ekyc v1|"
MAX_APPLICATION = 200  # characters: the signed message stays within what a card reader signs (1 KiB)
ACTIONS = {"verification": "ekyc.verification", "status": "ekyc.status", "login": "ekyc.login"}
_SEXES = {code: sex for sex, code in SEX_CODES.items()}


class UnknownBusiness(Forbidden):
    slug = "ekyc-unknown-business"
    title_ja = "プラットフォーム事業者に登録されていない事業者です"
    title_en = "The business is not registered with a platform operator"


class FactsNotRegistered(Forbidden):
    slug = "ekyc-facts-not-registered"
    title_ja = "登録されていない基本4情報は提供できません"
    title_en = "The business is not registered for these facts"


class ChallengeUnknown(NotFound):
    slug = "ekyc-challenge-unknown"
    title_ja = "本人確認用のチャレンジが見つかりません"
    title_en = "No such challenge for this business and purpose"


class ChallengeUsed(Conflict):
    slug = "ekyc-challenge-used"
    title_ja = "このチャレンジは使用済みです（再送は受け付けません）"
    title_en = "This challenge was already used (a replay is refused)"


class ChallengeExpired(DomainError):
    slug = "ekyc-challenge-expired"
    status = 410
    title_ja = "チャレンジの有効期限（3分）が切れました。最初からやり直してください"
    title_en = "The challenge expired (3 minutes); start again"


class CertificateRefused(Forbidden):
    """The certificate is not good (``certificate_status`` says why) or the signature does not verify."""

    slug = "ekyc-certificate-refused"
    title_ja = "この電子証明書では本人確認ができません"
    title_en = "This certificate cannot be used for identity verification"


class VerificationNotFound(NotFound):
    slug = "ekyc-verification-not-found"
    title_ja = "本人確認の記録が見つかりません"
    title_en = "No such verification of this business"


@dataclass(frozen=True)
class Refused:
    """A refused request, already in the business's log: the caller commits, then raises ``error``."""

    error: DomainError
    use_id: int


@dataclass(frozen=True)
class Released:
    """What the business learns: the facts it may see, and its own pseudonym of the holder."""

    ref: str
    pseudonym: str
    facts: dict[str, str]
    certificate_serial: str
    certificate_not_after: dt.datetime


@dataclass(frozen=True)
class LoggedIn:
    pseudonym: str
    use_id: int


@dataclass(frozen=True)
class CertificateStatus:
    ref: str
    status: str  # the validity service's: good | revoked | suspended | expired
    revoked_at: dt.datetime | None
    reason: str | None
    replaced_by_serial: str | None
    replaced_by_facts: dict[str, str] | None


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _now() -> dt.datetime:
    return clock.now().astimezone(dt.UTC)


def pseudonym_for(keys: KeyRing, *, business: str, subject: str) -> str:
    """The business's own name for the holder: the same at account opening and login, and after card renewal."""
    return pairwise_subject(keys, sector=f"ekyc:{business}", person=subject)


def allowed_facts(business: Business) -> list[str]:
    return business.facts.split()


def parse_facts(text: str) -> list[str]:
    """``name,address`` → the facts in their fixed order, each known (else InvalidInput)."""
    asked = {f.strip() for f in text.replace(" ", ",").split(",") if f.strip()}
    unknown = asked - set(FACTS)
    if unknown or not asked:
        raise InvalidInput(f"facts are a non-empty subset of {', '.join(FACTS)}", field="facts")
    return [f for f in FACTS if f in asked]


def register_business(
    session: Session, *, keys: KeyRing, operator: str, code: str, name: str, kind: str, facts: list[str]
) -> Business:
    """Register ``code`` with ``operator`` for ``facts``.

    The business's organisation (kind ``business``) is made if new, its key kept in the platform's custody
    (the demo's way); a business holding its own key registers it first with ``openmyna org add``.
    """
    platform = orgs.get_organisation(session, operator)
    if platform.kind != "platform_operator" or not platform.active:
        raise Forbidden(f"{operator} is not an active platform operator")
    if kind not in BUSINESS_KINDS:
        raise InvalidInput(f"kind is one of {', '.join(BUSINESS_KINDS)}", field="kind")
    facts = parse_facts(",".join(facts))
    if session.scalar(select(Business.id).where(Business.code == code)) is not None:
        raise Conflict(f"business {code} is already registered")
    try:
        organisation = orgs.get_organisation(session, code)
    except NotFound:
        organisation = orgs.add_organisation(
            session, keys=keys, code=code, name=name, kind="business", custodial=True
        ).organisation
    if organisation.kind != "business":
        raise Conflict(f"{code} is a {organisation.kind}, not a business")
    row = Business(
        code=code,
        name=name,
        kind=kind,
        operator_org=operator,
        facts=" ".join(facts),
        active=True,
        registered_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def get_business(session: Session, code: str) -> Business:
    """The active registration of ``code`` (else :class:`UnknownBusiness`)."""
    row = session.scalar(select(Business).where(Business.code == code))
    if row is None or not row.active:
        raise UnknownBusiness(f"{code} is not registered with a platform operator")
    return row


def list_businesses(session: Session) -> list[Business]:
    return list(session.scalars(select(Business).order_by(Business.code)))


def open_challenge(session: Session, *, business: str, purpose: Purpose) -> tuple[bytes, dt.datetime]:
    """A fresh challenge (3 minutes, single use) naming the business and the purpose."""
    get_business(session, business)
    if purpose not in PURPOSES:
        raise InvalidInput(f"purpose is one of {', '.join(PURPOSES)}", field="purpose")
    now = _now()
    session.execute(
        delete(Challenge).where(Challenge.expires_at <= now - TTL), execution_options={"synchronize_session": False}
    )
    challenge = PREFIX + f"{business}|{purpose}|{secrets.token_urlsafe(24)}".encode()
    session.add(
        Challenge(
            token_hash=_digest(challenge), business=business, purpose=purpose, created_at=now, expires_at=now + TTL
        )
    )
    session.flush()
    return challenge, now + TTL


def _challenge(session: Session, business: str, purpose: str, challenge: bytes) -> Challenge:
    row = session.scalar(select(Challenge).where(Challenge.token_hash == _digest(challenge)))
    if row is None or row.business != business or row.purpose != purpose:
        raise ChallengeUnknown(f"the challenge was not issued to {business} for {purpose.replace('_', ' ')}")
    if row.used_at is not None:
        raise ChallengeUsed("this challenge was already used: a replay is refused")
    if clock.now() >= jpki.aware(row.expires_at):
        raise ChallengeExpired("the challenge is older than three minutes")
    return row


def _consume(session: Session, row: Challenge) -> None:
    taken = session.execute(
        update(Challenge)
        .where(Challenge.id == row.id, Challenge.used_at.is_(None))
        .values(used_at=_now())
        .returning(Challenge.id),
        execution_options={"synchronize_session": False},
    ).first()
    if taken is None:
        raise ChallengeUsed("this challenge was already used: a replay is refused")


def _facts_of(der: bytes, allowed: list[str]) -> dict[str, str]:
    """The certificate's facts the business may see (birth date as ISO 8601, sex as a word)."""
    raw = facts_in(x509.load_der_x509_certificate(der))
    born = raw.get("birth_date", "")
    values = {
        "name": raw.get("name", ""),
        "birth_date": f"{born[:4]}-{born[4:6]}-{born[6:8]}" if len(born) == 8 else born,
        "sex": _SEXES.get(raw.get("sex", ""), "not_known"),
        "address": raw.get("address", ""),
    }
    return {fact: values[fact] for fact in FACTS if fact in allowed}


def _log(session: Session, *, business: str, action: str, error: DomainError | None = None, ref: str = "") -> int:
    row = Use(
        business=business[:32],
        action=action,
        occurred_at=clock.now(),
        ok=error is None,
        outcome="ok" if error is None else error.slug[:64],
        detail="" if error is None else error.detail[:300],
        verification_ref=ref,
    )
    session.add(row)
    session.flush()
    return row.id


def _seen(session: Session, *, subject: str, business: str, actor: str, action: str, purpose: str) -> None:
    audit.record_access(
        session, subject=subject, actor_org=business[:32], actor=actor[:128], action=ACTIONS[action], purpose=purpose
    )


def _require_good(validity: jpki.Validity, kind: str) -> None:
    """The validity service's answer refuses anything but a good certificate of ``kind``."""
    if validity.kind != kind:
        raise CertificateRefused(f"a {kind} certificate is needed, not {validity.kind}", certificate_status="kind")
    if validity.status != "good":
        raise CertificateRefused(
            f"the certificate is {validity.status.replace('_', ' ')}",
            certificate_status=validity.status,
            reason=validity.reason,
            replaced_by=validity.replaced_by.serial if validity.replaced_by else None,
        )


def _verified(responder: Responder, *, der: bytes, data: bytes, signature: bytes, kind: Any) -> str:
    try:
        return verify_signature(responder, certificate_der=der, data=data, signature=signature, kind=kind).serial
    except LoginRefused as exc:
        raise CertificateRefused(exc.detail, certificate_status="invalid", reason=exc.extensions.get("reason")) from exc


def verify(
    session: Session,
    *,
    config: jpki.CaConfig,
    responder: Responder,
    business: str,
    actor: str,
    challenge: bytes,
    application: str,
    certificate: bytes,
    signature: bytes,
    facts: list[str] | None,
) -> Released | Refused:
    """An account opening: check the signing certificate and signature, release the registered facts."""
    subject = ""
    try:
        registered = get_business(session, business)
        allowed = allowed_facts(registered)
        asked = allowed if facts is None else parse_facts(",".join(facts))
        if extra := [f for f in asked if f not in allowed]:
            raise FactsNotRegistered(
                f"{business} is registered for {', '.join(allowed)}; not for {', '.join(extra)}",
                registered=allowed,
                refused=extra,
            )
        row = _challenge(session, business, "account_opening", challenge)
        if len(application) > MAX_APPLICATION:
            raise InvalidInput(f"the application text is at most {MAX_APPLICATION} characters", field="application")
        validity = jpki.check_validity(
            session, config=config, data=certificate, at=None, verifier_org=registered.operator_org, actor=actor
        )
        subject = jpki.certificate(session, serial=validity.serial).subject
        _require_good(validity, "sign")
        message = challenge + b"\n" + application.encode()
        _verified(responder, der=certificate, data=message, signature=signature, kind="sign")
        _consume(session, row)
    except DomainError as error:
        if subject:
            _seen(session, subject=subject, business=business, actor=actor, action="verification", purpose="refused")
        return Refused(error, _log(session, business=business, action="verification", error=error))
    verification = Verification(
        ref="ekyc_" + secrets.token_urlsafe(18),
        business=business,
        serial=validity.serial,
        subject=subject,
        facts=" ".join(asked),
        application_hash=_digest(application.encode()),
        verified_at=clock.now(),
    )
    session.add(verification)
    _log(session, business=business, action="verification", ref=verification.ref)
    released = _facts_of(jpki.certificate(session, serial=validity.serial).der, asked)
    _seen(session, subject=subject, business=business, actor=actor, action="verification", purpose=application)
    return Released(
        verification.ref,
        pseudonym_for(config.keys, business=business, subject=subject),
        released,
        validity.serial,
        validity.not_after,
    )


def status(
    session: Session, *, config: jpki.CaConfig, business: str, actor: str, ref: str
) -> CertificateStatus | Refused:
    """Has the certificate of verification ``ref`` been revoked or replaced since? And by which?"""
    try:
        registered = get_business(session, business)
        found = session.scalar(select(Verification).where(Verification.ref == ref, Verification.business == business))
        if found is None:
            raise VerificationNotFound(f"{business} has no verification {ref[:40]!r}")
    except DomainError as error:
        return Refused(error, _log(session, business=business, action="status", error=error))
    der = jpki.certificate(session, serial=found.serial).der
    validity = jpki.check_validity(
        session, config=config, data=der, at=None, verifier_org=registered.operator_org, actor=actor
    )
    new = validity.replaced_by
    still = [fact for fact in found.facts.split() if fact in allowed_facts(registered)]
    new_facts = _facts_of(new.der, still) if new is not None else None
    _log(session, business=business, action="status", ref=ref)
    said = f"certificate {validity.status}" + (", replaced" if new is not None else "")
    _seen(session, subject=found.subject, business=business, actor=actor, action="status", purpose=said)
    return CertificateStatus(
        ref, validity.status, validity.revoked_at, validity.reason, new.serial if new else None, new_facts
    )


def login(
    session: Session,
    *,
    keys: KeyRing,
    responder: Responder,
    business: str,
    actor: str,
    challenge: bytes,
    certificate: bytes,
    signature: bytes,
) -> LoggedIn | Refused:
    """A login with the authentication certificate: the business's pseudonym of the holder, and the log row."""
    subject = ""
    try:
        get_business(session, business)
        row = _challenge(session, business, "login", challenge)
        serial = _verified(responder, der=certificate, data=challenge, signature=signature, kind="auth")
        try:
            subject = cards.in_use_with_auth(session, serial=serial).subject
        except DomainError as exc:
            raise CertificateRefused(f"the card is not in use ({exc.detail})", certificate_status="card") from exc
        _consume(session, row)
    except DomainError as error:
        if subject:
            _seen(session, subject=subject, business=business, actor=actor, action="login", purpose="refused")
        return Refused(error, _log(session, business=business, action="login", error=error))
    _seen(session, subject=subject, business=business, actor=actor, action="login", purpose="login")
    pseudonym = pseudonym_for(keys, business=business, subject=subject)
    return LoggedIn(pseudonym, _log(session, business=business, action="login"))


def uses(session: Session, *, business: str, limit: int = 20) -> list[Use]:
    """The business's log, newest first."""
    query = select(Use).where(Use.business == business).order_by(Use.id.desc()).limit(limit)
    return list(session.scalars(query))
