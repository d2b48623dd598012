"""What crosses the payee API: payment requests, refunds, and the limits on them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, model_validator

from openmyna.core.timefmt import UtcDateTime
from openmyna.core.validation import Id, SafeText, StrictModel

MAX_AMOUNT = 99_999_999
Amount = Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT, description="Japanese yen, a whole number")]
Kind = Literal["tax", "fee", "insurance", "other"]
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"


class PaymentRequestIn(StrictModel):
    """A request for one person, named by resident id or by pseudonym (never by My Number)."""

    resident_id: Id | None = None
    subject: Annotated[str, Field(pattern=r"^person:[0-9a-f]{32}$")] | None = Field(
        default=None, description="The person's pseudonym (registry.subject_of), instead of resident_id"
    )
    kind: Kind
    purpose: Annotated[SafeText, Field(min_length=1, max_length=200)]
    amount: Amount
    due_date: dt.date = Field(description="Last day to pay (JST)")

    @model_validator(mode="after")
    def _one_person(self) -> PaymentRequestIn:
        if (self.resident_id is None) == (self.subject is None):
            raise ValueError("name the person by exactly one of resident_id and subject")
        if not dt.date(2000, 1, 1) <= self.due_date <= dt.date(2100, 12, 31):
            raise ValueError("due_date must be between 2000-01-01 and 2100-12-31")
        return self


class RefundIn(StrictModel):
    amount: Amount
    reason: Annotated[SafeText, Field(min_length=1, max_length=200)]


class RefundOut(BaseModel):
    id: int
    amount: int
    reason: str
    status: Literal["pending", "succeeded"]
    created_at: UtcDateTime
    settled_at: UtcDateTime | None


class PaymentRequestOut(BaseModel):
    """A request and its payment status as the payee sees it."""

    id: int
    payee: str
    subject: str
    kind: str
    purpose: str
    amount: int
    due_date: dt.date
    status: Literal["open", "paid", "refunded"]
    created_at: UtcDateTime
    paid_at: UtcDateTime | None
    settled_at: UtcDateTime | None
    receipt_number: str | None
    refunded_amount: int
    refunds: list[RefundOut] = []
