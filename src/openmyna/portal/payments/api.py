"""The payee API (agencies and municipalities holding ``payments:request``) and the acquirer's webhook endpoint."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from openmyna.core import audit, clock
from openmyna.core.db import unit_of_work
from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, UnitOfWorkRoute
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller
from openmyna.portal.payments import service, settlement
from openmyna.portal.payments.config import WEBHOOK_PATH
from openmyna.portal.payments.models import PaymentRequest
from openmyna.portal.payments.provider import PaymentProvider
from openmyna.portal.payments.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    PaymentRequestIn,
    PaymentRequestOut,
    RefundIn,
    RefundOut,
)

router = APIRouter(route_class=UnitOfWorkRoute, tags=["payments"])
Payee = Annotated[Caller, Depends(require_scope(service.PAYMENT_SCOPE))]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Any 1–128 printable ASCII characters; the same key and body replay the first answer",
    ),
]


def provider_of(request: Request) -> PaymentProvider:
    return request.app.state.payments_provider


Provider = Annotated[PaymentProvider, Depends(provider_of)]


def _out(session: DbSession, row: PaymentRequest, *, with_refunds: bool = True) -> PaymentRequestOut:
    refunds = service.refunds_of(session, row.id) if with_refunds else []
    return PaymentRequestOut(
        id=row.id,
        payee=row.payee_org,
        subject=row.subject,
        kind=row.kind,
        purpose=row.purpose,
        amount=row.amount,
        due_date=row.due_date,
        status=row.status,  # type: ignore[arg-type]
        created_at=row.created_at,
        paid_at=row.paid_at,
        settled_at=row.settled_at,
        receipt_number=row.receipt_number,
        refunded_amount=row.refunded_amount,
        refunds=[
            RefundOut(
                id=r.id,
                amount=r.amount,
                reason=r.reason,
                status=r.status,  # type: ignore[arg-type]
                created_at=r.created_at,
                settled_at=r.settled_at,
            )
            for r in refunds
        ],
    )


@router.post("/api/payments/requests", response_model=PaymentRequestOut, status_code=201)
def create_request(
    body: PaymentRequestIn, session: DbSession, caller: Payee, idempotency_key: IdempotencyKey, response: Response
) -> PaymentRequestOut:
    """Ask one person to pay; the same Idempotency-Key and body return the first answer (never a second request)."""
    row, replayed = service.create_request(
        session,
        caller=caller,
        idempotency_key=idempotency_key,
        payload=body.model_dump(mode="json"),
        resident_id=body.resident_id,
        subject=body.subject,
        kind=body.kind,
        purpose=body.purpose,
        amount=body.amount,
        due_date=body.due_date,
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    session.flush()
    return _out(session, row)


@router.get("/api/payments/requests", response_model=list[PaymentRequestOut])
def list_requests(
    session: DbSession,
    caller: Payee,
    status: Literal["open", "paid", "refunded"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PaymentRequestOut]:
    """The caller's requests, newest first, with their payment status."""
    rows = service.list_for_payee(session, caller=caller, status=status, limit=limit)
    subjects = sorted({r.subject for r in rows})
    if subjects:  # bulk_insert of no rows is an error on SQLite
        audit.record_accesses(
            session,
            subjects=subjects,
            actor_org=caller.org_code,
            actor=caller.actor,
            action="payments.status_read",
        )
    return [_out(session, row, with_refunds=False) for row in rows]


@router.get("/api/payments/requests/{request_id}", response_model=PaymentRequestOut)
def get_request(request_id: IdParam, session: DbSession, caller: Payee) -> PaymentRequestOut:
    """One of the caller's requests: open, paid (with receipt number and settlement) or refunded."""
    row = service.for_payee(session, caller=caller, request_id=request_id)
    audit.record_access(
        session,
        subject=row.subject,
        actor_org=caller.org_code,
        actor=caller.actor,
        action="payments.status_read",
        purpose=f"payment request {row.id}",
    )
    return _out(session, row)


@router.post("/api/payments/requests/{request_id}/refunds", response_model=RefundOut, status_code=201)
def refund(
    request: Request,
    request_id: IdParam,
    body: RefundIn,
    caller: Payee,
    idempotency_key: IdempotencyKey,
    provider: Provider,
    response: Response,
) -> RefundOut:
    """Give back part or all of a payment through the acquirer; the person sees it in their history."""
    factory = request.app.state.session_factory
    with unit_of_work(factory) as session:
        ticket = settlement.begin_refund(
            session,
            caller=caller,
            request_id=request_id,
            amount=body.amount,
            reason=body.reason,
            idempotency_key=idempotency_key,
        )
    if ticket.status == "pending":
        result = provider.refund(
            payment_id=ticket.payment_id, amount=ticket.amount, idempotency_key=ticket.idempotency_key
        )
        with unit_of_work(factory) as session:
            settlement.finish_refund(session, ticket=ticket, result=result)
    if ticket.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    with unit_of_work(factory) as session:
        row = next(r for r in service.refunds_of(session, request_id) if r.id == ticket.refund_id)
        return RefundOut(
            id=row.id,
            amount=row.amount,
            reason=row.reason,
            status=row.status,  # type: ignore[arg-type]
            created_at=row.created_at,
            settled_at=row.settled_at,
        )


async def raw_body(request: Request) -> bytes:
    return await request.body()


_WEBHOOK_DOCUMENT = {
    "parameters": [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
        for name, text in (
            ("webhook-id", "The event's id (applied once)"),
            ("webhook-timestamp", "Unix seconds; refused outside the tolerance (300 s)"),
            ("webhook-signature", "v1, + base64 HMAC-SHA-256 over id.timestamp.body (Standard Webhooks)"),
        )
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "description": "The acquirer's event"}}},
    },
}


@router.post(WEBHOOK_PATH, status_code=200, openapi_extra=_WEBHOOK_DOCUMENT)
def webhook(
    request: Request, session: DbSession, provider: Provider, body: Annotated[bytes, Depends(raw_body)]
) -> dict[str, bool]:
    """The acquirer's signed events (Standard Webhooks): a bad signature or stale timestamp is 400; an
    event seen before is acknowledged and not applied again."""
    event = provider.verify_webhook(headers=request.headers, body=body, now=clock.now().timestamp())
    applied = settlement.apply_webhook(session, event=event)
    return {"applied": applied}
