"""Employee IDs in the card's free space and the gates that admit them (社員証・入退館証).

An employer (or a ministry, for the national civil servant's ID, 国家公務員身分証) writes an application
named ``employee-id:<employer>`` into the free space of an employee's card in use, holding the employee
ID, and registers the badge. At a gate the card is read: the application, the authentication
certificate and a signature over a fresh single-use challenge that names the gate. The gate admits only
when the signature and certificate verify through the platform's validity service, the card is in use,
the application is the employer's and matches a badge still active for that card. A revoked badge
or card is refused at once (both are checked against the database on every read); a replayed read
finds its challenge used. Every read is logged; every admission or refusal of a known card is an
access event the holder sees.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.carduses.models import Badge, Entry, Gate, GateChallenge
from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.core.db import SWEEPS
from openmyna.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from openmyna.jpki.ocsp import Responder
from openmyna.jpki.verify import LoginRefused, verify_signature
from openmyna.orgs import service as orgs

TTL = dt.timedelta(seconds=60)
PREFIX = b"openmyna gate v1|"
EMPLOYER_KINDS = ("employer", "ministry")
ACTIVE, REVOKED = "active", "revoked"
ENTER_ACTION, BADGE_ACTION = "carduses.gate", "carduses.badge"
GATE_CODE = r"^[\w-]{1,32}$"
"""A gate code in a path: letters, digits and '-' (a NUL or a control never reaches the database)."""


class GateNotFound(NotFound):
    slug = "gate-not-found"
    title_ja = "ゲートが見つかりません"
    title_en = "No such gate"


class NotAnEmployer(Forbidden):
    slug = "gate-not-an-employer"
    title_ja = "社員証を発行できる組織ではありません"
    title_en = "This organisation cannot issue employee IDs"


class BadgeNotFound(NotFound):
    slug = "gate-badge-not-found"
    title_ja = "社員証が登録されていません"
    title_en = "No such employee ID"


class EntryRefused(Forbidden):
    """The gate stays shut: ``reason`` says why (a stable word for the gate's display)."""

    slug = "gate-entry-refused"
    title_ja = "入館できません"
    title_en = "Entry refused"


class ChallengeReplayed(Conflict):
    slug = "gate-challenge-used"
    title_ja = "この読み取りは使用済みです（再送は受け付けません）"
    title_en = "This read was already used (a replay is refused)"


class ChallengeExpired(DomainError):
    slug = "gate-challenge-expired"
    status = 410
    title_ja = "読み取りの有効期限が切れました。もう一度カードをかざしてください"
    title_en = "The read expired; present the card again"


@dataclass(frozen=True)
class Admission:
    entry_id: int
    gate: str
    employee_id: str
    employer: str

    def as_json(self) -> dict[str, Any]:
        return {
            "admitted": True,
            "reason": "admitted",
            "gate": self.gate,
            "employee_id": self.employee_id,
            "employer": self.employer,
            "entry_id": self.entry_id,
        }


@dataclass(frozen=True)
class Refused:
    """A refused read, already in the entry log: the caller commits, then raises ``error``."""

    error: DomainError
    entry_id: int


def app_name(employer: str) -> str:
    return f"employee-id:{employer}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _employer(session: Session, code: str) -> orgs.Organisation:
    found = orgs.get_organisation(session, code)
    if found.kind not in EMPLOYER_KINDS or not found.active:
        raise NotAnEmployer(f"{code} is a {found.kind}; employee IDs come from employers and ministries")
    return found


def register_badge(session: Session, *, keys: KeyRing, employer: str, card_id: int, employee_id: str) -> Badge:
    """Write the employee ID into the card's free space and register it (the card must be in use)."""
    _employer(session, employer)
    if not 1 <= len(employee_id) <= 32 or not employee_id.replace("-", "").isalnum():
        raise InvalidInput("an employee ID is 1–32 letters, digits or '-'", field="employee_id")
    if session.scalar(select(Badge.id).where(Badge.employer_org == employer, Badge.employee_id == employee_id)):
        raise Conflict(f"{employer} already has an employee ID {employee_id}")
    card = cards.get_card(session, card_id=card_id)
    cards.install_app(
        session,
        keys=keys,
        card_id=card_id,
        name=app_name(employer),
        issuer=employer,
        data={"employee_id": employee_id, "employer": employer},
    )
    badge = Badge(
        employer_org=employer,
        employee_id=employee_id,
        card_id=card_id,
        subject=card.subject,
        status=ACTIVE,
        created_at=clock.now(),
    )
    session.add(badge)
    session.flush()
    audit.record_access(
        session,
        subject=card.subject,
        actor_org=employer,
        actor=f"system:{employer}",
        action=BADGE_ACTION,
        purpose=f"employee ID {employee_id} written to the card",
    )
    return badge


def revoke_badge(session: Session, *, employer: str, employee_id: str) -> Badge:
    """The employee left (or lost the card): every gate refuses the badge from now on."""
    badge = session.scalar(select(Badge).where(Badge.employer_org == employer, Badge.employee_id == employee_id))
    if badge is None:
        raise BadgeNotFound(f"{employer} has no employee ID {employee_id}")
    badge.status, badge.revoked_at = REVOKED, clock.now()
    return badge


def add_gate(session: Session, *, code: str, name: str, employer: str) -> Gate:
    _employer(session, employer)
    if not 1 <= len(code) <= 32 or not code.replace("-", "").isalnum():
        raise InvalidInput("a gate code is 1–32 letters, digits or '-'", field="code")
    if session.scalar(select(Gate.id).where(Gate.code == code)) is not None:
        raise Conflict(f"gate {code} already exists")
    gate = Gate(code=code, name=name, employer_org=employer)
    session.add(gate)
    session.flush()
    return gate


def get_gate(session: Session, code: str) -> Gate:
    gate = session.scalar(select(Gate).where(Gate.code == code))
    if gate is None:
        raise GateNotFound(f"no gate {code!r}")
    return gate


def list_gates(session: Session, *, employer: str | None = None) -> list[Gate]:
    query = select(Gate).order_by(Gate.code)
    return list(session.scalars(query.where(Gate.employer_org == employer) if employer else query))


def issue_challenge(session: Session, *, prefix: bytes, place: str) -> tuple[bytes, dt.datetime]:
    """A fresh single-use challenge naming ``place`` (one minute): ``prefix + place + b"|" + token``.

    Gates and venues share the table; a place is a gate's code or ``<purpose>:<event>`` (gate codes hold no ``:``).
    """
    now = clock.now().astimezone(dt.UTC)
    SWEEPS.drop_older(session, GateChallenge.expires_at, now - TTL, now)  # dead ones are refused by their expiry
    token = secrets.token_urlsafe(24)
    session.add(GateChallenge(token_hash=_digest(token), gate_code=place, created_at=now, expires_at=now + TTL))
    session.flush()
    return prefix + f"{place}|{token}".encode(), now + TTL


def open_challenge(session: Session, *, gate: str) -> tuple[bytes, dt.datetime]:
    """A fresh challenge for the gate's reader (one minute, single use)."""
    get_gate(session, gate)
    return issue_challenge(session, prefix=PREFIX, place=gate)


def find_challenge(
    session: Session, *, prefix: bytes, place: str, challenge: bytes, refused: type[DomainError] = EntryRefused
) -> GateChallenge:
    """The unused, unexpired challenge ``place`` was issued; ``refused`` (reason ``unknown-challenge``) if none."""
    head = prefix + place.encode() + b"|"
    token = challenge[len(head) :] if challenge.startswith(head) else b""
    row = session.scalar(select(GateChallenge).where(GateChallenge.token_hash == _digest(token.decode("latin-1"))))
    if row is None or row.gate_code != place:
        raise refused("the challenge was not issued here", reason="unknown-challenge")
    if row.used_at is not None:
        raise ChallengeReplayed("this challenge was already used: a replayed read is refused", reason="replayed")
    if clock.now() >= _aware(row.expires_at):
        raise ChallengeExpired("the challenge is older than a minute", reason="expired-challenge")
    return row


def use_challenge(session: Session, row: GateChallenge) -> None:
    """Mark the challenge used, once: of two concurrent reads with it, the second is refused as a replay."""
    taken = session.execute(
        update(GateChallenge)
        .where(GateChallenge.id == row.id, GateChallenge.used_at.is_(None))
        .values(used_at=clock.now())
        .returning(GateChallenge.id),
        execution_options={"synchronize_session": False},
    ).first()
    if taken is None:
        raise ChallengeReplayed("this challenge was already used: a replayed read is refused", reason="replayed")


def verified_card(
    session: Session,
    *,
    responder: Responder,
    challenge: bytes,
    certificate: bytes,
    signature: bytes,
    refused: type[DomainError] = EntryRefused,
) -> cards.Card:
    """The card in use whose authentication key signed ``challenge``, its certificate valid now (OCSP included).

    ``refused`` with reason ``certificate`` (and the RFC 5280 ``revocation_reason`` when revoked) or ``card``.
    """
    try:
        verified = verify_signature(responder, certificate_der=certificate, data=challenge, signature=signature)
    except LoginRefused as exc:
        revocation = exc.extensions.get("reason")  # the RFC 5280 reason, when the certificate was revoked
        raise refused(exc.detail, reason="certificate", revocation_reason=revocation) from exc
    try:
        return cards.in_use_with_auth(session, serial=verified.serial)
    except DomainError as exc:
        raise refused(f"the card is not in use ({exc.detail})", reason="card") from exc


def _log(session: Session, *, gate: str, admitted: bool, reason: str, employee_id: str = "", subject: str = "") -> int:
    row = Entry(
        gate_code=gate[:32],
        occurred_at=clock.now(),
        admitted=admitted,
        reason=reason[:300],
        employee_id=employee_id,
        subject=subject,
    )
    session.add(row)
    session.flush()
    return row.id


def enter(
    session: Session,
    *,
    responder: Responder,
    gate: str,
    challenge: bytes,
    certificate: bytes,
    signature: bytes,
    app: dict[str, Any],
) -> Admission | Refused:
    """Admit or refuse one read at ``gate``; either way it is logged, and a refusal changes nothing else."""
    subject, employee_id = "", ""
    try:
        found = get_gate(session, gate)
        row = find_challenge(session, prefix=PREFIX, place=gate, challenge=challenge)
        card = verified_card(
            session, responder=responder, challenge=challenge, certificate=certificate, signature=signature
        )
        subject = card.subject
        data = app.get("data") if isinstance(app, dict) else None
        employee_id = str(data.get("employee_id", ""))[:32] if isinstance(data, dict) else ""
        if app.get("issuer") != found.employer_org or not employee_id:
            raise EntryRefused(f"the card holds no employee ID of {found.employer_org}", reason="no-badge")
        badge = session.scalar(
            select(Badge).where(Badge.employer_org == found.employer_org, Badge.employee_id == employee_id)
        )
        if badge is None or badge.card_id != card.id:
            raise EntryRefused("the employee ID is not registered for this card", reason="no-badge")
        if badge.status != ACTIVE:
            raise EntryRefused(f"employee ID {employee_id} was revoked", reason="badge-revoked")
        use_challenge(session, row)
    except DomainError as error:
        entry = _log(session, gate=gate, admitted=False, reason=error.detail, employee_id=employee_id, subject=subject)
        if subject:
            audit.record_access(
                session,
                subject=subject,
                actor_org=gate[:32],
                actor=f"gate:{gate}",
                action=ENTER_ACTION,
                purpose=f"refused: {error.detail}"[:256],
            )
        return Refused(error, entry)
    entry = _log(session, gate=gate, admitted=True, reason="admitted", employee_id=employee_id, subject=subject)
    audit.record_access(
        session,
        subject=subject,
        actor_org=found.employer_org,
        actor=f"gate:{gate}",
        action=ENTER_ACTION,
        purpose=f"admitted at {gate}",
    )
    return Admission(entry, gate, employee_id, found.employer_org)


def entries(session: Session, *, gate: str, limit: int = 20) -> list[Entry]:
    return list(session.scalars(select(Entry).where(Entry.gate_code == gate).order_by(Entry.id.desc()).limit(limit)))
