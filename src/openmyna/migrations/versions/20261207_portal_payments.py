"""portal payments: payment requests, attempts, refunds and acquirer webhooks seen

Revision ID: 0520
Revises: 0001
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0520"
down_revision = "0001"
branch_labels = ("portal_payments",)
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payments_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payee_org", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("request_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("paid_at", _tz(), nullable=True),
        sa.Column("settled_at", _tz(), nullable=True),
        sa.Column("receipt_number", sa.String(length=32), nullable=True),
        sa.Column("refunded_amount", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_requests")),
        sa.UniqueConstraint(
            "payee_org", "idempotency_key", name=op.f("uq_payments_requests_payee_org_idempotency_key")
        ),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_payments_requests_receipt_number")),
    )
    op.create_index(op.f("ix_payments_requests_payee_org"), "payments_requests", ["payee_org"])
    op.create_index(op.f("ix_payments_requests_subject"), "payments_requests", ["subject"])
    op.create_table(
        "payments_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("acquirer_payment_id", sa.String(length=64), nullable=True),
        sa.Column("card_brand", sa.String(length=16), nullable=False),
        sa.Column("card_last4", sa.String(length=4), nullable=False),
        sa.Column("decline_code", sa.String(length=32), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("finished_at", _tz(), nullable=True),
        sa.Column("payeasy_institution", sa.String(length=5), nullable=False),
        sa.Column("payeasy_customer", sa.String(length=20), nullable=False),
        sa.Column("payeasy_confirmation", sa.String(length=6), nullable=False),
        sa.Column("expires_at", _tz(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["payments_requests.id"], name=op.f("fk_payments_attempts_request_id_payments_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_attempts")),
        sa.UniqueConstraint("request_id", "key", name=op.f("uq_payments_attempts_request_id_key")),
        sa.UniqueConstraint("acquirer_payment_id", name=op.f("uq_payments_attempts_acquirer_payment_id")),
    )
    op.create_index(op.f("ix_payments_attempts_request_id"), "payments_attempts", ["request_id"])
    op.create_table(
        "payments_refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("request_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("acquirer_refund_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("settled_at", _tz(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["payments_requests.id"], name=op.f("fk_payments_refunds_request_id_payments_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_refunds")),
        sa.UniqueConstraint(
            "request_id", "idempotency_key", name=op.f("uq_payments_refunds_request_id_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_payments_refunds_request_id"), "payments_refunds", ["request_id"])
    op.create_table(
        "payments_webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("received_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_webhook_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_payments_webhook_events_event_id")),
    )


def downgrade() -> None:
    op.drop_table("payments_webhook_events")
    op.drop_index(op.f("ix_payments_refunds_request_id"), table_name="payments_refunds")
    op.drop_table("payments_refunds")
    op.drop_index(op.f("ix_payments_attempts_request_id"), table_name="payments_attempts")
    op.drop_table("payments_attempts")
    op.drop_index(op.f("ix_payments_requests_subject"), table_name="payments_requests")
    op.drop_index(op.f("ix_payments_requests_payee_org"), table_name="payments_requests")
    op.drop_table("payments_requests")
