"""Refunds and settlement: money given back by the payee, and the acquirer's webhooks applied once.

Split from ``service`` by use case; the same rules hold: plain functions over a Session, never committing,
the request's row locked while its amounts change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.errors import Conflict, NotFound
from openmyna.orgs.service import Caller
from openmyna.portal.payments.models import PaymentAttempt, Refund, WebhookReceipt
from openmyna.portal.payments.provider import RefundResult, WebhookEvent
from openmyna.portal.payments.service import (
    AWAITING,
    CAPTURED,
    OPEN,
    REFUNDED,
    IdempotencyKeyReused,
    captured_attempt,
    digest,
    for_payee,
    locked_request,
    mark_paid,
    record_event,
)


class NotRefundable(Conflict):
    slug = "not-refundable"
    title_ja = "返金できません"
    title_en = "Cannot be refunded"


@dataclass(frozen=True)
class RefundTicket:
    refund_id: int
    request_id: int
    amount: int
    status: str
    payment_id: str
    idempotency_key: str
    replayed: bool


def _refund_ticket(refund: Refund, payment_id: str, *, replayed: bool) -> RefundTicket:
    key = f"pr{refund.request_id}-refund-{refund.id}"
    return RefundTicket(refund.id, refund.request_id, refund.amount, refund.status, payment_id, key, replayed)


def begin_refund(
    session: Session, *, caller: Caller, request_id: int, amount: int, reason: str, idempotency_key: str
) -> RefundTicket:
    """Reserve a refund of ``amount`` (never more than was paid and not yet refunded or reserved)."""
    request = for_payee(session, caller=caller, request_id=request_id, lock=True)
    fingerprint = digest({"amount": amount, "reason": reason})
    query = select(Refund).where(Refund.request_id == request_id, Refund.idempotency_key == idempotency_key)
    attempt = captured_attempt(session, request_id)
    payment_id = (attempt.acquirer_payment_id or "") if attempt is not None else ""
    same = session.scalar(query)
    if same is not None:
        if same.request_digest != fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key already asked for a different refund")
        return _refund_ticket(same, payment_id, replayed=True)
    if attempt is None:
        raise NotRefundable(f"payment request {request_id} has not been paid")
    reserved = session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.request_id == request_id, Refund.status.in_(("pending", "succeeded"))
        )
    )
    if amount > request.amount - int(reserved or 0):
        raise NotRefundable(f"at most {request.amount - int(reserved or 0)} yen of this payment can still be refunded")
    refund = Refund(
        request_id=request_id,
        amount=amount,
        reason=reason,
        idempotency_key=idempotency_key,
        request_digest=fingerprint,
        status="pending",
        created_by=caller.actor,
        created_at=clock.now(),
    )
    session.add(refund)
    session.flush()
    return _refund_ticket(refund, payment_id, replayed=False)


def finish_refund(session: Session, *, ticket: RefundTicket, result: RefundResult) -> Refund:
    """Record a refund the acquirer made, once; the person sees it as an access event."""
    request = locked_request(session, ticket.request_id)
    refund = session.get(Refund, ticket.refund_id)
    assert request is not None and refund is not None
    if refund.status != "pending":
        return refund
    refund.status, refund.acquirer_refund_id = "succeeded", result.refund_id
    request.refunded_amount += refund.amount
    if request.refunded_amount >= request.amount:
        request.status = REFUNDED
    purpose = f"{request.receipt_number} 返金 {refund.amount}円 {refund.reason}"
    record_event(
        session,
        request,
        actor_org=request.payee_org,
        actor=refund.created_by,
        action="payments.refunded",
        purpose=purpose,
    )
    session.flush()
    return refund


def apply_webhook(session: Session, *, event: WebhookEvent) -> bool:
    """Mark a payment or refund settled; ``False`` for an event already applied (a retry or a replay)."""
    if session.scalar(select(WebhookReceipt.id).where(WebhookReceipt.event_id == event.id)) is not None:
        return False
    if event.type == "payment.settled":
        attempt = session.scalar(select(PaymentAttempt).where(PaymentAttempt.acquirer_payment_id == event.payment_id))
        if attempt is None or attempt.status not in (CAPTURED, AWAITING):
            raise NotFound("no captured payment with this id yet; the acquirer will retry")
        request = locked_request(session, attempt.request_id)
        assert request is not None
        if attempt.status == AWAITING:  # a Pay-easy payment made at a bank: this is how the platform learns of it
            if request.status != OPEN:
                raise Conflict(f"payment request {request.id} is already paid; refund the Pay-easy payment")
            mark_paid(session, request, attempt, clock.now())
        request.settled_at = request.settled_at or clock.now()
    elif event.type == "refund.settled":
        refund = session.scalar(select(Refund).where(Refund.acquirer_refund_id == event.refund_id))
        if refund is None:
            raise NotFound("no recorded refund with this id yet; the acquirer will retry")
        refund.settled_at = refund.settled_at or clock.now()
    try:
        with session.begin_nested():
            session.add(WebhookReceipt(event_id=event.id, kind=event.type[:32], received_at=clock.now()))
    except IntegrityError:  # the same event applied by a concurrent delivery: this one changes nothing
        return False
    return True
