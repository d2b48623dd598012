"""Payment requests and their payment, refund and settlement: plain functions over a Session, never committing.

Paying is two short units of work around the acquirer's answer (:func:`begin_attempt`, then the provider's
calls, then :func:`finish_attempt`), so no transaction waits on the network. Both lock the request's row,
so two submissions are ordered: one pays, the other finds it paid or in progress. The form's key is the
attempt's key and the acquirer's idempotency key, so a double-submitted form resumes the same attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.errors import Conflict, DomainError, NotFound
from openmyna.core.timefmt import as_utc
from openmyna.orgs.service import Caller
from openmyna.portal.payments.models import PaymentAttempt, PaymentRequest, Refund
from openmyna.portal.payments.provider import (
    Authorisation,
    Capture,
    PayeasyInstruction,
)
from openmyna.registry import service as registry

PAYMENT_SCOPE = "payments:request"
KINDS = ("tax", "fee", "insurance", "other")
OPEN, PAID, REFUNDED = "open", "paid", "refunded"
PROCESSING, CAPTURED, DECLINED = "processing", "captured", "declined"
AWAITING = "awaiting"  # Pay-easy numbers issued, not yet paid at a bank
Method = Literal["card", "payeasy"]


class PaymentRequestNotFound(NotFound):
    slug = "payment-request-not-found"
    title_ja = "お支払いの依頼が見つかりません"
    title_en = "No such payment request"


class AlreadyPaid(Conflict):
    slug = "already-paid"
    title_ja = "このお支払いは完了しています"
    title_en = "This request has already been paid"


class PaymentInProgress(Conflict):
    slug = "payment-in-progress"
    title_ja = "このお支払いは処理中です"
    title_en = "A payment of this request is in progress"


class PayeasyAwaiting(Conflict):
    slug = "payeasy-awaiting"
    title_ja = "ペイジーの支払番号を発行済みです。その番号でお支払いください"
    title_en = "Pay-easy numbers have been issued; pay with them"


class PaymentDeclined(DomainError):
    slug = "payment-declined"
    status = 402
    title_ja = "カードでのお支払いができませんでした"
    title_en = "The card was declined"


class IdempotencyKeyReused(DomainError):
    """The IETF Idempotency-Key draft's answer to a key sent again with a different request."""

    slug = "idempotency-key-reused"
    status = 422
    title_ja = "同じ冪等キーで異なる内容が送られました"
    title_en = "This Idempotency-Key was used with a different request"


def digest(payload: dict[str, Any]) -> bytes:
    """A request body's fingerprint for idempotency (key order and spacing do not matter)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).digest()


def record_event(
    session: Session, request: PaymentRequest, *, actor_org: str, actor: str, action: str, purpose: str
) -> None:
    audit.record_access(
        session, subject=request.subject, actor_org=actor_org, actor=actor, action=action, purpose=purpose[:256]
    )


def _subject_for(session: Session, *, caller: Caller, resident_id: int | None, subject: str | None) -> str:
    why = "payment request"
    if resident_id is not None:
        return registry.subject_of(registry.get_resident(session, resident_id=resident_id, caller=caller, purpose=why))
    assert subject is not None
    return registry.subject_of(registry.lookup_by_subject(session, subject=subject, caller=caller, purpose=why))


def _by_key(session: Session, payee: str, key: str) -> PaymentRequest | None:
    query = select(PaymentRequest).where(PaymentRequest.payee_org == payee, PaymentRequest.idempotency_key == key)
    return session.scalar(query)


def _replay(existing: PaymentRequest, fingerprint: bytes) -> tuple[PaymentRequest, bool]:
    if existing.request_digest != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key already created a different payment request")
    return existing, True


def create_request(
    session: Session,
    *,
    caller: Caller,
    idempotency_key: str,
    payload: dict[str, Any],
    resident_id: int | None,
    subject: str | None,
    kind: str,
    purpose: str,
    amount: int,
    due_date: dt.date,
) -> tuple[PaymentRequest, bool]:
    """Create a request for one person, or return the one this key created (``True``: a replay)."""
    fingerprint = digest(payload)
    existing = _by_key(session, caller.org_code, idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint)
    person = _subject_for(session, caller=caller, resident_id=resident_id, subject=subject)
    row = PaymentRequest(
        payee_org=caller.org_code,
        subject=person,
        kind=kind,
        purpose=purpose,
        amount=amount,
        due_date=due_date,
        status=OPEN,
        idempotency_key=idempotency_key,
        request_digest=fingerprint,
        created_by=caller.actor,
        created_at=clock.now(),
        refunded_amount=0,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same key committed by a concurrent request since we looked
        existing = _by_key(session, caller.org_code, idempotency_key)
        assert existing is not None
        return _replay(existing, fingerprint)
    record_event(
        session, row, actor_org=caller.org_code, actor=caller.actor, action="payments.requested", purpose=purpose
    )
    return row, False


def locked_request(session: Session, request_id: int) -> PaymentRequest | None:
    return session.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id).with_for_update())


def for_payee(session: Session, *, caller: Caller, request_id: int, lock: bool = False) -> PaymentRequest:
    """One of the caller's own requests (another organisation's is not found, as if it did not exist)."""
    row = locked_request(session, request_id) if lock else session.get(PaymentRequest, request_id)
    if row is None or row.payee_org != caller.org_code:
        raise PaymentRequestNotFound(f"no payment request {request_id} of {caller.org_code}")
    return row


def list_for_payee(session: Session, *, caller: Caller, status: str | None, limit: int) -> list[PaymentRequest]:
    query = select(PaymentRequest).where(PaymentRequest.payee_org == caller.org_code)
    if status:
        query = query.where(PaymentRequest.status == status)
    return list(session.scalars(query.order_by(PaymentRequest.id.desc()).limit(limit)))


def list_all(session: Session, *, status: str | None, payee: str | None, limit: int) -> list[PaymentRequest]:
    """Every payee's requests, newest first (the operator's view, ``openmyna payments list``)."""
    query = select(PaymentRequest).order_by(PaymentRequest.id.desc()).limit(limit)
    if status:
        query = query.where(PaymentRequest.status == status)
    if payee:
        query = query.where(PaymentRequest.payee_org == payee)
    return list(session.scalars(query))


def for_person(session: Session, *, subject: str, request_id: int) -> PaymentRequest:
    """One of the person's own requests; someone else's is not found."""
    row = session.get(PaymentRequest, request_id)
    if row is None or row.subject != subject:
        raise PaymentRequestNotFound(f"you have no payment request {request_id}")
    return row


def list_for_person(session: Session, *, subject: str) -> list[PaymentRequest]:
    """Open requests by due date, then paid ones, newest first."""
    query = select(PaymentRequest).where(PaymentRequest.subject == subject)
    rows = list(session.scalars(query.order_by(PaymentRequest.due_date, PaymentRequest.id)))
    return [r for r in rows if r.status == OPEN] + sorted(
        (r for r in rows if r.status != OPEN), key=lambda r: (r.paid_at or r.created_at, r.id), reverse=True
    )


def attempts_of(session: Session, request_id: int) -> list[PaymentAttempt]:
    query = select(PaymentAttempt).where(PaymentAttempt.request_id == request_id).order_by(PaymentAttempt.id)
    return list(session.scalars(query))


def refunds_of(session: Session, request_id: int) -> list[Refund]:
    return list(session.scalars(select(Refund).where(Refund.request_id == request_id).order_by(Refund.id)))


def captured_attempt(session: Session, request_id: int) -> PaymentAttempt | None:
    query = select(PaymentAttempt).where(PaymentAttempt.request_id == request_id, PaymentAttempt.status == CAPTURED)
    return session.scalar(query)


def pending_key(session: Session, request_id: int) -> str | None:
    """The key of an attempt still in progress: the pay form resumes it rather than starting another."""
    query = select(PaymentAttempt.key).where(
        PaymentAttempt.request_id == request_id, PaymentAttempt.status == PROCESSING
    )
    return session.scalar(query)


@dataclass(frozen=True)
class Ticket:
    """An attempt as the pay view needs it between its two units of work (plain values)."""

    attempt_id: int
    request_id: int
    key: str
    amount: int
    status: str
    decline_code: str
    method: str

    @property
    def reference(self) -> str:
        return f"payment-request-{self.request_id}"

    @property
    def idempotency_key(self) -> str:
        return f"pr{self.request_id}-{self.key}"


def _ticket(attempt: PaymentAttempt, amount: int) -> Ticket:
    return Ticket(
        attempt.id, attempt.request_id, attempt.key, amount, attempt.status, attempt.decline_code, attempt.method
    )


def awaiting_payeasy(session: Session, request_id: int) -> PaymentAttempt | None:
    """Pay-easy numbers of this request still valid at the bank (the request cannot be paid otherwise meanwhile)."""
    query = select(PaymentAttempt).where(PaymentAttempt.request_id == request_id, PaymentAttempt.status == AWAITING)
    now = clock.now()
    return next((a for a in session.scalars(query) if a.expires_at is None or as_utc(a.expires_at) > now), None)


def begin_attempt(session: Session, *, subject: str, request_id: int, key: str, method: Method = "card") -> Ticket:
    """Start paying (or return the attempt this form's key already started, to resume or replay it)."""
    request = locked_request(session, request_id)
    if request is None or request.subject != subject:
        raise PaymentRequestNotFound(f"you have no payment request {request_id}")
    query = select(PaymentAttempt).where(PaymentAttempt.request_id == request_id, PaymentAttempt.key == key)
    same = session.scalar(query)
    if same is not None:
        if same.method != method:  # the page's other form with the same key, e.g. from a second tab
            if same.status == AWAITING:
                raise PayeasyAwaiting("Pay-easy numbers were issued for this form; pay with them")
            raise PaymentInProgress(f"this form already started a {same.method} payment; reload the page")
        return _ticket(same, request.amount)
    if request.status != OPEN:
        raise AlreadyPaid(f"payment request {request_id} was paid on {request.paid_at}")
    if pending_key(session, request_id) is not None:
        raise PaymentInProgress("another payment of this request is being processed; reload the page")
    if awaiting_payeasy(session, request_id) is not None:
        raise PayeasyAwaiting("Pay-easy numbers for this request are valid until they expire; pay with them")
    attempt = PaymentAttempt(request_id=request_id, key=key, status=PROCESSING, method=method, created_at=clock.now())
    session.add(attempt)
    session.flush()
    return _ticket(attempt, request.amount)


def receipt_number(request: PaymentRequest, paid_at: dt.datetime) -> str:
    return f"OMP-{paid_at.astimezone(clock.JST):%Y%m%d}-{request.id:08d}"


def finish_attempt(
    session: Session, *, ticket: Ticket, authorisation: Authorisation, capture: Capture | None
) -> PaymentAttempt:
    """Record the acquirer's answer once: a second finish of the same attempt changes nothing."""
    request = locked_request(session, ticket.request_id)
    attempt = session.get(PaymentAttempt, ticket.attempt_id)
    assert request is not None and attempt is not None
    if attempt.status != PROCESSING:
        return attempt
    now = clock.now()
    attempt.finished_at = now
    attempt.acquirer_payment_id = authorisation.payment_id
    attempt.card_brand, attempt.card_last4 = authorisation.card_brand[:16], authorisation.card_last4[:4]
    subject = request.subject
    if capture is None:
        attempt.status, attempt.decline_code = DECLINED, authorisation.decline_code[:32]
        record_event(
            session, request, actor_org="portal", actor=subject, action="payments.declined", purpose=request.purpose
        )
        return attempt
    mark_paid(session, request, attempt, now)
    session.flush()
    return attempt


def finish_payeasy(session: Session, *, ticket: Ticket, instruction: PayeasyInstruction) -> PaymentAttempt:
    """Keep the Pay-easy numbers issued for an attempt (once); the request is paid when the bank's payment is
    reported by webhook (:func:`apply_webhook`)."""
    request = locked_request(session, ticket.request_id)
    attempt = session.get(PaymentAttempt, ticket.attempt_id)
    assert request is not None and attempt is not None
    if attempt.status != PROCESSING:
        return attempt
    attempt.finished_at, attempt.acquirer_payment_id = clock.now(), instruction.payment_id
    attempt.card_brand = "payeasy"
    if instruction.status == "declined":
        attempt.status, attempt.decline_code = DECLINED, instruction.decline_code[:32]
        action = "payments.declined"
    else:
        attempt.status, attempt.expires_at = AWAITING, instruction.expires_at
        attempt.payeasy_institution = instruction.institution_number[:5]
        attempt.payeasy_customer = instruction.customer_number[:20]
        attempt.payeasy_confirmation = instruction.confirmation_number[:6]
        action = "payments.payeasy_issued"
    record_event(session, request, actor_org="portal", actor=request.subject, action=action, purpose=request.purpose)
    return attempt


def mark_paid(session: Session, request: PaymentRequest, attempt: PaymentAttempt, now: dt.datetime) -> None:
    """The request is paid by ``attempt``: its receipt number, and an access event the person sees."""
    attempt.status = CAPTURED
    request.status, request.paid_at, request.receipt_number = PAID, now, receipt_number(request, now)
    purpose = f"{request.receipt_number} {request.amount}円 {request.purpose}"
    record_event(
        session, request, actor_org=request.payee_org, actor=request.subject, action="payments.paid", purpose=purpose
    )
