"""Pay-easy (ペイジー) in the sandbox: payment numbers issued for an amount, paid later at a bank.

A real Pay-easy acquirer gives the payer a 収納機関番号 (institution number), a お客様番号 (customer number)
and a 確認番号 (confirmation number); the payer pays at a bank ATM or in online banking and the acquirer
tells the merchant by webhook. Here a test helper stands in for the bank: it checks the three numbers, the
amount and the expiry exactly as a bank would, then captures the payment and signs a ``payment.settled``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from pydantic import Field, StrictInt
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from openmyna.core.timefmt import as_utc
from openmyna.core.validation import SafeText, StrictModel
from openmyna.portal.payments.sandbox_store import Answer, Ledger, new_id, now, payments

INSTITUTION_NUMBER = "58091"
"""The sandbox's 収納機関番号 (five digits, as a real one)."""
VALID_DAYS = 14
LIMIT = 9_999_999
"""Pay-easy takes at most this many yen in one payment; a larger amount is declined ``amount_over_limit``."""


class PayeasyIn(StrictModel):
    amount: StrictInt = Field(ge=1, le=99_999_999)
    currency: str = Field(pattern="^jpy$")
    reference: SafeText = Field(max_length=128)


class BankPaymentIn(StrictModel):
    """What the payer keys in at the bank."""

    institution_number: str = Field(pattern=r"^[0-9]{5}$")
    customer_number: str = Field(pattern=r"^[0-9]{1,20}$")
    confirmation_number: str = Field(pattern=r"^[0-9]{6}$")
    amount: StrictInt = Field(ge=1, le=99_999_999)


def _error(status: int, code: str) -> Answer:
    return Answer(status, {"error": {"type": "payeasy_error", "code": code, "message": code.replace("_", " ")}})


def numbers_json(row: Any) -> dict[str, Any]:
    return {
        "institution_number": INSTITUTION_NUMBER,
        "customer_number": row.payeasy_customer,
        "confirmation_number": row.payeasy_confirmation,
        "expires_at": int(as_utc(row.expires_at).timestamp()) if row.expires_at else 0,
    }


def issue(body: PayeasyIn, to_json: Callable[[Any], dict[str, Any]]) -> Callable[[Connection], Answer]:
    """Issue payment numbers for ``body.amount`` (402 ``amount_over_limit`` above Pay-easy's limit)."""

    def work(connection: Connection) -> Answer:
        payment_id = new_id("pay")
        over = body.amount > LIMIT
        connection.execute(
            insert(payments).values(
                id=payment_id,
                amount=body.amount,
                captured_amount=0,
                refunded_amount=0,
                status="declined" if over else "pending",
                brand="payeasy",
                last4="",
                reference=body.reference,
                decline_code="amount_over_limit" if over else "",
                created_at=now(),
                method="payeasy",
                payeasy_customer="" if over else "".join(secrets.choice("0123456789") for _ in range(16)),
                payeasy_confirmation="" if over else "".join(secrets.choice("0123456789") for _ in range(6)),
                expires_at=None if over else now() + dt.timedelta(days=VALID_DAYS),
            )
        )
        row = connection.execute(select(payments).where(payments.c.id == payment_id)).one()
        if over:
            error = {"type": "payeasy_error", "code": "amount_over_limit", "message": f"at most {LIMIT} yen"}
            return Answer(402, {"error": error, "payment": to_json(row)})
        return Answer(201, to_json(row))

    return work


def bank_pays(
    ledger: Ledger, body: BankPaymentIn, to_json: Callable[[Any], dict[str, Any]]
) -> Callable[[Connection], Answer]:
    """The bank's side: numbers, amount and expiry checked, then the payment is captured and a webhook signed."""

    def work(connection: Connection) -> Answer:
        row = connection.execute(
            select(payments).where(payments.c.method == "payeasy", payments.c.payeasy_customer == body.customer_number)
        ).one_or_none()
        if (
            row is None
            or body.institution_number != INSTITUTION_NUMBER
            or not secrets.compare_digest(row.payeasy_confirmation, body.confirmation_number)
        ):
            return _error(404, "payeasy_number_unknown")
        if row.status != "pending":
            return _error(409, "payeasy_already_paid")
        if row.expires_at is not None and as_utc(row.expires_at) < now():
            return _error(400, "payeasy_expired")
        if body.amount != row.amount:
            return _error(400, "amount_mismatch")
        connection.execute(
            update(payments).where(payments.c.id == row.id).values(status="captured", captured_amount=row.amount)
        )
        event = ledger.record_event(connection, "payment.settled", {"payment": row.id, "amount": row.amount})
        paid = connection.execute(select(payments).where(payments.c.id == row.id)).one()
        return Answer(200, to_json(paid), events=(event,))

    return work
