"""Payment requests, the resident's attempts to pay them, refunds and the acquirer's webhooks already seen."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class PaymentRequest(Base):
    """An amount an organisation asks one person to pay (a tax instalment, a fee), and whether it was paid.

    ``subject`` is the person's pseudonym (``registry.subject_of``), never the My Number. The payee's
    ``idempotency_key`` makes a retried creation return the first answer instead of a second request.
    """

    __tablename__ = "payments_requests"
    __table_args__ = (UniqueConstraint("payee_org", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payee_org: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    receipt_number: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)


class PaymentAttempt(Base):
    """One submission of the pay form: its key (from the form) is the acquirer's idempotency key, so a
    double-submitted form resumes the same attempt rather than paying again."""

    __tablename__ = "payments_attempts"
    __table_args__ = (UniqueConstraint("request_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payments_requests.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    acquirer_payment_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    card_brand: Mapped[str] = mapped_column(String(16), default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    decline_code: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Pay-easy: the numbers the payer keys in at a bank, valid until ``expires_at``.
    payeasy_institution: Mapped[str] = mapped_column(String(5), default="")
    payeasy_customer: Mapped[str] = mapped_column(String(20), default="")
    payeasy_confirmation: Mapped[str] = mapped_column(String(6), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Refund(Base):
    """Money given back by the payee, in full or in part; idempotent per payee key like a creation."""

    __tablename__ = "payments_refunds"
    __table_args__ = (UniqueConstraint("request_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payments_requests.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    acquirer_refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookReceipt(Base):
    """A webhook the acquirer sent, by its id: the same event is applied once however often it arrives."""

    __tablename__ = "payments_webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
