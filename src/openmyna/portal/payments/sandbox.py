"""A sandbox card acquirer: authorise, capture, decline, refund, idempotency keys and signed webhooks.

It behaves like a real acquirer's test mode: deterministic test card numbers (below), a secret API key,
``Idempotency-Key`` on every POST (the same key and body replay the first answer; a different body is 422),
and Standard Webhooks signed with a shared secret, sent to the platform after each capture and refund and
retried until answered 2xx. It is its own FastAPI app with its own SQLite ledger, mounted at
``/sandbox-acquirer`` by ``create_app`` and runnable alone::

    python -m openmyna.portal.payments.sandbox --port 8700

The platform talks to it over HTTP with httpx, mounted or not. Its handlers are async and run their
database work on a limiter of their own, so a platform request waiting on the sandbox never waits for a
thread that platform requests occupy.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import httpx
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field, StrictBool, StrictInt
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing, load_master_key
from openmyna.core.validation import SafeText, StrictModel
from openmyna.portal.payments import sandbox_payeasy as payeasy
from openmyna.portal.payments import webhooks
from openmyna.portal.payments.config import WEBHOOK_PATH, PaymentSettings, resolve
from openmyna.portal.payments.sandbox_store import Answer, IdempotencyMismatch, Ledger, new_id, now, payments, refunds

MAX_AMOUNT = 99_999_999
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Auth = Annotated[str | None, Header()]
RETRY_DELAYS = (0.5, 2.0, 8.0, 30.0)


@dataclass(frozen=True)
class TestCard:
    brand: str
    decline_code: str = ""


TEST_CARDS: dict[str, TestCard] = {
    "4242424242424242": TestCard("visa"),
    "5555555555554444": TestCard("mastercard"),
    "3530111333300000": TestCard("jcb"),
    "4000000000000002": TestCard("visa", "card_declined"),
    "4000000000009995": TestCard("visa", "insufficient_funds"),
    "4000000000000069": TestCard("visa", "expired_card"),
    "4000000000000127": TestCard("visa", "incorrect_cvc"),
    "4000000000000119": TestCard("visa", "processing_error"),
}
"""Deterministic test numbers: the first three authorise, the others decline with the code shown."""


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


class CardIn(StrictModel):
    number: str = Field(pattern=r"^[0-9]{12,19}$")
    exp_month: StrictInt = Field(ge=1, le=12)
    exp_year: StrictInt = Field(ge=2000, le=2100)
    cvc: str = Field(pattern=r"^[0-9]{3,4}$")


class PaymentIn(StrictModel):
    amount: StrictInt = Field(ge=1, le=MAX_AMOUNT)
    currency: str = Field(pattern="^jpy$")
    reference: SafeText = Field(max_length=128)
    capture: StrictBool = False
    card: CardIn


class AmountIn(StrictModel):
    amount: StrictInt = Field(ge=1, le=MAX_AMOUNT)


def _error(status: int, kind: str, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "code": code, "message": message}, **extra}, status_code=status)


def _decline_code(card: CardIn) -> tuple[str, str]:
    """The brand and the decline code (empty when the card authorises) of a card in test mode."""
    known = TEST_CARDS.get(card.number)
    brand = known.brand if known else {"4": "visa", "5": "mastercard", "3": "jcb"}.get(card.number[0], "unknown")
    if not luhn_valid(card.number):
        return brand, "incorrect_number"
    if known is None:
        return brand, "test_mode_live_card"
    today = now().date()
    if (card.exp_year, card.exp_month) < (today.year, today.month):
        return brand, "expired_card"
    return brand, known.decline_code


def _payment_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "payment",
        "status": row.status,
        "amount": row.amount,
        "captured_amount": row.captured_amount,
        "refunded_amount": row.refunded_amount,
        "currency": "jpy",
        "reference": row.reference,
        "card": {"brand": row.brand, "last4": row.last4},
        "decline_code": row.decline_code,
        "created": int(row.created_at.timestamp()) if row.created_at else 0,
        "method": row.method,
        **({"payeasy": payeasy.numbers_json(row)} if row.method == "payeasy" and row.payeasy_customer else {}),
    }


def _load(connection: Connection, payment_id: str) -> Any:
    return connection.execute(select(payments).where(payments.c.id == payment_id)).one_or_none()


def _authorise(body: PaymentIn) -> Callable[[Connection], Answer]:
    def work(connection: Connection) -> Answer:
        brand, code = _decline_code(body.card)
        payment_id = new_id("pay")
        connection.execute(
            insert(payments).values(
                id=payment_id,
                amount=body.amount,
                captured_amount=0,
                refunded_amount=0,
                status="declined" if code else "authorised",
                brand=brand,
                last4=body.card.number[-4:],
                reference=body.reference,
                decline_code=code,
                created_at=now(),
            )
        )
        payment = _payment_json(_load(connection, payment_id))
        if code:
            error = {"type": "card_error", "code": code, "message": f"the card was declined ({code})"}
            return Answer(402, {"error": error, "payment": payment})
        return Answer(201, payment)

    return work


def _capture(ledger: Ledger, payment_id: str, body: AmountIn) -> Callable[[Connection], Answer]:
    def work(connection: Connection) -> Answer:
        row = _load(connection, payment_id)
        if row is None:
            return Answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}})
        if row.status != "authorised":
            return Answer(400, {"error": {"type": "invalid_request_error", "code": f"payment_{row.status}"}})
        if body.amount > row.amount:
            return Answer(400, {"error": {"type": "invalid_request_error", "code": "amount_too_large"}})
        connection.execute(
            update(payments).where(payments.c.id == payment_id).values(status="captured", captured_amount=body.amount)
        )
        event = ledger.record_event(connection, "payment.settled", {"payment": payment_id, "amount": body.amount})
        return Answer(200, _payment_json(_load(connection, payment_id)), events=(event,))

    return work


def _refund(ledger: Ledger, payment_id: str, body: AmountIn) -> Callable[[Connection], Answer]:
    def work(connection: Connection) -> Answer:
        row = _load(connection, payment_id)
        if row is None:
            return Answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}})
        if row.status not in ("captured", "refunded"):
            return Answer(400, {"error": {"type": "invalid_request_error", "code": "payment_not_captured"}})
        if body.amount > row.captured_amount - row.refunded_amount:
            return Answer(400, {"error": {"type": "invalid_request_error", "code": "amount_too_large"}})
        refund_id = new_id("re")
        refunded = row.refunded_amount + body.amount
        connection.execute(
            insert(refunds).values(id=refund_id, payment_id=payment_id, amount=body.amount, created_at=now())
        )
        connection.execute(
            update(payments)
            .where(payments.c.id == payment_id)
            .values(refunded_amount=refunded, status="refunded" if refunded == row.captured_amount else "captured")
        )
        data = {"payment": payment_id, "refund": refund_id, "amount": body.amount}
        event = ledger.record_event(connection, "refund.settled", data)
        return Answer(201, {"id": refund_id, "object": "refund", "status": "succeeded", **data}, events=(event,))

    return work


def create_sandbox_app(*, database: Path, api_key: str, webhook_secret: str, webhook_url: str | None) -> FastAPI:
    """The acquirer's HTTP API over its own ledger; webhooks go to ``webhook_url`` when it is set."""
    app = FastAPI(title="openmyna sandbox acquirer", docs_url=None, redoc_url=None, openapi_url=None)
    ledger = Ledger(database)
    limiter = anyio.CapacityLimiter(4)
    app.state.ledger = ledger
    tasks: set[asyncio.Task[None]] = set()

    async def in_thread(function: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(function, limiter=limiter)

    def authorised(authorization: str | None) -> bool:
        return authorization is not None and hmac.compare_digest(authorization.encode(), f"Bearer {api_key}".encode())

    async def deliver(event_id: str) -> None:
        body = await in_thread(lambda: ledger.event_body(event_id))
        if body is None or webhook_url is None:
            return
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            for delay in (0.0, *RETRY_DELAYS):
                await asyncio.sleep(delay)
                raw = body.encode()
                headers = webhooks.sign(webhook_secret, event_id=event_id, timestamp=int(time.time()), body=raw)
                try:
                    response = await client.post(
                        webhook_url, content=raw, headers=headers | {"content-type": "application/json"}
                    )
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
                await in_thread(lambda ok=ok: ledger.mark_delivery(event_id, delivered=ok))
                if ok:
                    return

    async def idempotent_post(
        request: Request, key: str | None, authorization: str | None, work: Callable[[Connection], Answer]
    ) -> JSONResponse:
        if not authorised(authorization):
            return _error(401, "authentication_error", "invalid_api_key", "send Authorization: Bearer <secret key>")
        if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
            return _error(400, "invalid_request_error", "idempotency_key_required", "send an Idempotency-Key header")
        fingerprint = hashlib.sha256(request.url.path.encode() + b"\n" + await request.body()).digest()
        try:
            answer: Answer = await in_thread(lambda: ledger.idempotent(key, fingerprint, work))
        except IdempotencyMismatch:
            return _error(422, "idempotency_error", "idempotency_key_reused", "this key was used with another request")
        for event_id in answer.events:
            if webhook_url is not None:
                task = asyncio.create_task(deliver(event_id))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message = "; ".join(str(e.get("msg")) for e in exc.errors())[:500]
        return _error(400, "invalid_request_error", "parameter_invalid", message)

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/payments")
    async def authorise(
        request: Request, body: PaymentIn, idempotency_key: IdemKey = None, authorization: Auth = None
    ) -> JSONResponse:
        return await idempotent_post(request, idempotency_key, authorization, _authorise(body))

    @app.post("/v1/payments/{payment_id}/capture")
    async def capture(
        request: Request, payment_id: str, body: AmountIn, idempotency_key: IdemKey = None, authorization: Auth = None
    ) -> JSONResponse:
        return await idempotent_post(request, idempotency_key, authorization, _capture(ledger, payment_id[:40], body))

    @app.post("/v1/payments/{payment_id}/refunds")
    async def refund(
        request: Request, payment_id: str, body: AmountIn, idempotency_key: IdemKey = None, authorization: Auth = None
    ) -> JSONResponse:
        return await idempotent_post(request, idempotency_key, authorization, _refund(ledger, payment_id[:40], body))

    @app.post("/v1/payeasy")
    async def payeasy_numbers(
        request: Request, body: payeasy.PayeasyIn, idempotency_key: IdemKey = None, authorization: Auth = None
    ) -> JSONResponse:
        """Pay-easy payment numbers for an amount (the payment stays pending until a bank pays it)."""
        return await idempotent_post(request, idempotency_key, authorization, payeasy.issue(body, _payment_json))

    @app.post("/v1/test_helpers/payeasy/bank_payment")
    async def payeasy_bank_payment(
        request: Request, body: payeasy.BankPaymentIn, idempotency_key: IdemKey = None, authorization: Auth = None
    ) -> JSONResponse:
        """Stand in for the payer's bank: pay Pay-easy numbers (then ``payment.settled`` is sent)."""
        work = payeasy.bank_pays(ledger, body, _payment_json)
        return await idempotent_post(request, idempotency_key, authorization, work)

    @app.get("/v1/payments")
    async def search_payments(reference: str = "", authorization: Auth = None) -> JSONResponse:
        """Payments made with one merchant reference, oldest first (to reconcile, as acquirers' search does)."""
        if not authorised(authorization):
            return _error(401, "authentication_error", "invalid_api_key", "send Authorization: Bearer <secret key>")
        query = select(payments).where(payments.c.reference == reference[:128]).order_by(payments.c.created_at)
        rows = await in_thread(lambda: ledger.read(lambda c: c.execute(query).all()))
        return JSONResponse({"data": [_payment_json(row) for row in rows]})

    @app.get("/v1/payments/{payment_id}")
    async def get_payment(payment_id: str, authorization: Auth = None) -> JSONResponse:
        if not authorised(authorization):
            return _error(401, "authentication_error", "invalid_api_key", "send Authorization: Bearer <secret key>")
        row = await in_thread(lambda: ledger.read(lambda c: _load(c, payment_id[:40])))
        if row is None:
            return _error(404, "invalid_request_error", "resource_missing", "no such payment")
        return JSONResponse(_payment_json(row))

    @app.get("/v1/events")
    async def list_events(authorization: Auth = None, limit: int = 20) -> JSONResponse:
        """The latest webhook events with their exact bodies and delivery state (newest first)."""
        if not authorised(authorization):
            return _error(401, "authentication_error", "invalid_api_key", "send Authorization: Bearer <secret key>")
        return JSONResponse({"data": await in_thread(lambda: ledger.list_events(max(1, min(limit, 100))))})

    @app.post("/v1/events/{event_id}/signed")
    async def signed_event(event_id: str, authorization: Auth = None) -> JSONResponse:
        """An event's body with fresh signature headers, as it would be sent now (to resend it by hand)."""
        if not authorised(authorization):
            return _error(401, "authentication_error", "invalid_api_key", "send Authorization: Bearer <secret key>")
        body = await in_thread(lambda: ledger.event_body(event_id[:40]))
        if body is None:
            return _error(404, "invalid_request_error", "resource_missing", "no such event")
        headers = webhooks.sign(webhook_secret, event_id=event_id, timestamp=int(time.time()), body=body.encode())
        return JSONResponse({"headers": headers, "body": body})

    return app


def sandbox_for(settings: Settings, keys: KeyRing, payments_settings: PaymentSettings) -> FastAPI:
    """The sandbox as the platform's configuration describes it (shared key and secret, webhooks to it)."""
    config = resolve(payments_settings, settings, keys)
    database = payments_settings.sandbox_database or settings.var_dir / "sandbox-acquirer.db"
    return create_sandbox_app(
        database=database,
        api_key=config.api_key,
        webhook_secret=config.webhook_secret,
        webhook_url=settings.base_url.rstrip("/") + WEBHOOK_PATH,
    )


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox alone on loopback, with the key and secret the platform derives from its master key."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    args = parser.parse_args(argv)
    settings = Settings()
    app = sandbox_for(settings, KeyRing(load_master_key(settings)), PaymentSettings())
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
