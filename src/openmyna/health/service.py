"""Online eligibility (オンライン資格確認): a clinic's reception terminal asks the clearing house about a card.

1. :func:`open_challenge` gives a registered clinic a fresh single-use challenge (2 minutes). It names the
   clinic and the patient's choice about sharing records, so the card's signature covers that consent.
2. The card signs the challenge with its authentication key after the chip checks the 4-digit PIN.
3. :func:`check` has the clearing house verify the signature and the certificate through the platform's
   validity service (:func:`openmyna.jpki.verify.verify_signature`: chain, dates, policy, OCSP status),
   find the card's holder, turn the holder into the clearing house's agency-specific code and answer from
   the insurers' qualifications: insured or not, by whom, the burden ratio, and, only when the signed
   challenge says the patient agreed, the medicines the insurers know were dispensed.

Every answer is an access event the patient sees; every check, answered or refused, is in the clearing
house's log (:class:`~openmyna.health.models.Check`). A refusal changes nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.core.db import SWEEPS
from openmyna.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from openmyna.health.insurers import CLEARING_HOUSE, clearing_code_of_link, insurer_facts
from openmyna.health.models import Challenge, Check, Dispensed, Qualification
from openmyna.jpki.ocsp import Responder
from openmyna.jpki.verify import LoginRefused, verify_signature
from openmyna.network import enrolment
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry

TTL = dt.timedelta(minutes=2)
PREFIX = b"openmyna health eligibility v1|"
CHECK_ACTION = "health.eligibility"
FaceCheck = Literal["not_used", "matched", "not_matched"]
FACE_CHECKS: tuple[str, ...] = ("not_used", "matched", "not_matched")
MAX_RECORDS = 50


class UnknownClinic(Forbidden):
    slug = "health-unknown-clinic"
    title_ja = "登録されていない医療機関です"
    title_en = "The medical institution is not registered"


class ChallengeUnknown(NotFound):
    slug = "health-challenge-unknown"
    title_ja = "資格確認用のチャレンジが見つかりません"
    title_en = "No such eligibility challenge"


class ChallengeUsed(Conflict):
    slug = "health-challenge-used"
    title_ja = "この資格確認用のチャレンジは使用済みです"
    title_en = "This eligibility challenge has already been used"


class ChallengeExpired(DomainError):
    slug = "health-challenge-expired"
    status = 410
    title_ja = "資格確認の有効期限（2分）が切れました。もう一度カードを読み取ってください"
    title_en = "The eligibility challenge expired (2 minutes); read the card again"


class CardRefused(LoginRefused):
    slug = "health-card-refused"
    title_ja = "このカードでは資格確認ができません"
    title_en = "This card cannot be used for an eligibility check"


class FaceNotMatched(Forbidden):
    slug = "health-face-not-matched"
    title_ja = "顔認証で本人と確認できませんでした。暗証番号で確認するか、窓口で確認してください"
    title_en = "The face check did not match; confirm with the PIN or at the desk"


@dataclass(frozen=True)
class Opened:
    challenge: bytes
    expires_at: dt.datetime


@dataclass(frozen=True)
class Eligibility:
    """The clearing house's answer to a reception terminal."""

    check_id: int
    insured: bool
    checked_on: dt.date
    reason: str = ""
    insurer: dict[str, str] | None = None
    qualification: dict[str, Any] | None = None
    burden_ratio: float | None = None
    shared: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "insured": self.insured,
            "checked_on": self.checked_on.isoformat(),
            "reason": self.reason,
            "insurer_number": self.insurer["insurer_number"] if self.insurer else None,
            "insurer": self.insurer,
            "burden_ratio": self.burden_ratio,
            "qualification": self.qualification,
            "consent_to_share": self.shared,
            "records": self.records if self.shared else None,
        }


@dataclass(frozen=True)
class Refused:
    """A refused check: already in the clearing house's log; the caller commits, then raises ``error``."""

    error: DomainError
    check_id: int


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def _now() -> dt.datetime:
    return clock.now().astimezone(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def require_clinic(session: Session, code: str) -> orgs.Organisation:
    """The registered, active medical institution with ``code`` (else :class:`UnknownClinic`)."""
    found = session.scalar(select(orgs.Organisation).where(orgs.Organisation.code == code))
    if found is None or found.kind != "medical_institution" or not found.active:
        raise UnknownClinic(f"{code!r} is not a registered medical institution", clinic=code)
    return found


def challenge_bytes(clinic: str, share: bool, token: str) -> bytes:
    """What the card signs: a fixed prefix, the clinic, the patient's consent choice and a random token."""
    return PREFIX + f"{clinic}|{'share' if share else 'no-share'}|{token}".encode()


def _parse(clinic: str, challenge: bytes) -> tuple[bool, str]:
    head = PREFIX + clinic.encode() + b"|"
    if not challenge.startswith(head):
        raise CardRefused("the challenge was not issued to this medical institution")
    choice, _, token = challenge[len(head) :].partition(b"|")
    if choice not in (b"share", b"no-share") or not 20 <= len(token) <= 64 or not token.isascii():
        raise CardRefused("the challenge was not issued by the clearing house")
    return choice == b"share", token.decode()


def open_challenge(session: Session, *, clinic: str, share: bool) -> Opened:
    """A fresh challenge for a registered clinic's terminal; stale ones are dropped on the way (at most every
    few seconds: ``core.db.SWEEPS``; a dead challenge is refused by its own expiry meanwhile)."""
    require_clinic(session, clinic)
    now = _now()
    SWEEPS.drop_older(session, Challenge.expires_at, now - TTL, now)
    token = secrets.token_urlsafe(24)
    data = challenge_bytes(clinic, share, token)
    session.add(
        Challenge(
            token_hash=_digest(token.encode()), clinic_org=clinic, share=share, created_at=now, expires_at=now + TTL
        )
    )
    session.flush()
    return Opened(data, now + TTL)


def _take_challenge(session: Session, *, clinic: str, token: str) -> Challenge:
    row = session.scalar(select(Challenge).where(Challenge.token_hash == _digest(token.encode())))
    if row is None or row.clinic_org != clinic:
        raise ChallengeUnknown("no eligibility challenge with this token for this clinic")
    if row.used_at is not None:
        raise ChallengeUsed("this challenge was already used: a replayed card read is refused; read the card again")
    if _now() >= _aware(row.expires_at):
        raise ChallengeExpired("the challenge is older than 2 minutes; read the card again")
    return row


def current_qualification(session: Session, *, clearing_code: str, on: dt.date) -> Qualification | None:
    """The qualification in force on ``on`` (a new insurer's, from its first day)."""
    query = (
        select(Qualification)
        .where(
            Qualification.clearing_code == clearing_code,
            Qualification.valid_from <= on,
            or_(Qualification.valid_until.is_(None), Qualification.valid_until >= on),
        )
        .order_by(Qualification.valid_from.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _not_insured_reason(session: Session, *, clearing_code: str, on: dt.date) -> str:
    last = session.scalars(
        select(Qualification)
        .where(Qualification.clearing_code == clearing_code, Qualification.valid_from <= on)
        .order_by(Qualification.valid_from.desc())
        .limit(1)
    ).first()
    if last is not None and last.valid_until is not None:
        return f"the insurance ended on {last.valid_until.isoformat()} (資格喪失)"
    return "no insurer holds a qualification in force for this person (資格なし)"


def dispensed_records(session: Session, *, clearing_code: str) -> list[dict[str, Any]]:
    """The medicines the insurers know were dispensed to the person, newest first."""
    rows = session.scalars(
        select(Dispensed)
        .where(Dispensed.clearing_code == clearing_code)
        .order_by(Dispensed.dispensed_on.desc(), Dispensed.id.desc())
        .limit(MAX_RECORDS)
    )
    return [
        {
            "dispensed_on": row.dispensed_on.isoformat(),
            "medicine": row.medicine,
            "dose": row.dose,
            "days": row.days,
            "pharmacy": row.pharmacy,
            "insurer": row.insurer_org,
        }
        for row in rows
    ]


def _log(session: Session, *, clinic: str, outcome: str, reason: str = "", subject: str = "", **more: Any) -> int:
    row = Check(
        clinic_org=clinic[:32], occurred_at=clock.now(), outcome=outcome, reason=reason[:300], subject=subject, **more
    )
    session.add(row)
    session.flush()
    return row.id


def record_refusal(session: Session, *, clinic: str, error: DomainError) -> Refused:
    """Log a check refused before it reached :func:`check` (e.g. a challenge for an unregistered clinic)."""
    return Refused(error, _log(session, clinic=clinic[:32], outcome="refused", reason=error.detail))


def check(
    session: Session,
    *,
    keys: KeyRing,
    responder: Responder,
    clinic: str,
    challenge: bytes,
    certificate: bytes,
    signature: bytes,
    face_check: str = "not_used",
    actor: str = "",
) -> Eligibility | Refused:
    """Answer one eligibility check, or refuse it; either way the clearing house's log has it."""
    subject = ""
    try:
        require_clinic(session, clinic)
        if face_check not in FACE_CHECKS:
            raise InvalidInput(f"face_check is one of {', '.join(FACE_CHECKS)}", field="face_check")
        if face_check == "not_matched":
            raise FaceNotMatched("the terminal's face check did not match the card's photograph")
        share, token = _parse(clinic, challenge)
        row = _take_challenge(session, clinic=clinic, token=token)
        if share != row.share:
            raise CardRefused("the consent in the signed challenge is not the one the challenge was issued with")
        verified = verify_signature(
            responder, certificate_der=certificate, data=challenge, signature=signature, kind="auth"
        )
        try:
            card = cards.in_use_with_auth(session, serial=verified.serial)
        except DomainError as exc:
            raise CardRefused(f"the card is not in use ({exc.detail})") from exc
        subject = card.subject
        taken = session.execute(
            update(Challenge)
            .where(Challenge.id == row.id, Challenge.used_at.is_(None))
            .values(used_at=clock.now())
            .returning(Challenge.id),
            execution_options={"synchronize_session": False},
        ).first()
        if taken is None:  # a concurrent read of the same challenge won
            raise ChallengeUsed("this challenge was already used: a replayed card read is refused")
    except DomainError as error:
        return Refused(error, _log(session, clinic=clinic, outcome="refused", reason=error.detail, subject=subject))
    resident = registry.find_resident(session, resident_id=card.resident_id)
    assert resident is not None
    link = enrolment.person_link(keys, registry.my_number_of(keys, resident))
    code = clearing_code_of_link(keys, link)
    today = clock.today()
    found = current_qualification(session, clearing_code=code, on=today)
    if found is None:
        reason = _not_insured_reason(session, clearing_code=code, on=today)
        check_id = _log(session, clinic=clinic, outcome="not_insured", reason=reason, subject=subject)
        answer = Eligibility(check_id, False, today, reason=reason)
    else:
        records = dispensed_records(session, clearing_code=code) if share else []
        check_id = _log(
            session, clinic=clinic, outcome="insured", subject=subject, insurer_org=found.insurer_org, shared=share
        )
        answer = Eligibility(
            check_id,
            True,
            today,
            insurer=insurer_facts(session, found.insurer_org),
            qualification={
                "symbol": found.symbol,
                "number": found.number,
                "branch": found.branch,
                "relation": found.relation,
                "valid_from": found.valid_from.isoformat(),
                "valid_until": found.valid_until.isoformat() if found.valid_until else None,
            },
            burden_ratio=found.burden_percent / 100,
            shared=share,
            records=records,
        )
    audit.record_access(
        session,
        subject=subject,
        actor_org=clinic,
        actor=actor or f"terminal:{clinic}",
        action=CHECK_ACTION,
        purpose=("insured" if answer.insured else "not-insured")
        + (f" via {CLEARING_HOUSE}; medicines shared with consent" if answer.shared else f" via {CLEARING_HOUSE}"),
    )
    return answer


def list_clinics(session: Session) -> list[orgs.Organisation]:
    return list(
        session.scalars(
            select(orgs.Organisation)
            .where(orgs.Organisation.kind == "medical_institution", orgs.Organisation.active.is_(True))
            .order_by(orgs.Organisation.code)
        )
    )


def checks_of_clinic(session: Session, *, clinic: str, limit: int = 20) -> list[Check]:
    """The clinic's recent checks as the clearing house logged them (for the terminal's own list)."""
    return list(session.scalars(select(Check).where(Check.clinic_org == clinic).order_by(Check.id.desc()).limit(limit)))
