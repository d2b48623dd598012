"""kiosk: document signers, certificates issued at convenience stores, kiosk sales and refusals

Revision ID: 0700
Revises: 0001
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0700"
down_revision = "0001"
branch_labels = ("kiosk",)
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kiosk_signers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_signers")),
        sa.UniqueConstraint("serial", name=op.f("uq_kiosk_signers_serial")),
    )
    op.create_index("ix_kiosk_signers_owner_role", "kiosk_signers", ["owner", "role", "active"])
    op.create_table(
        "kiosk_issued",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=32), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("signer_serial", sa.String(length=40), nullable=False),
        sa.Column("pdf_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("issued_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_issued")),
        sa.UniqueConstraint("number", name=op.f("uq_kiosk_issued_number")),
        sa.UniqueConstraint("store", "request_key", name=op.f("uq_kiosk_issued_store_request_key")),
    )
    op.create_index("ix_kiosk_issued_kind_time", "kiosk_issued", ["kind", "issued_at"])
    op.create_table(
        "kiosk_sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store", sa.String(length=32), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("tendered", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("sold_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_sales")),
        sa.UniqueConstraint("store", "request_key", name=op.f("uq_kiosk_sales_store_request_key")),
    )
    op.create_table(
        "kiosk_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store", sa.String(length=32), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_refusals")),
    )
    op.create_index("ix_kiosk_refusals_time", "kiosk_refusals", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_kiosk_refusals_time", table_name="kiosk_refusals")
    op.drop_table("kiosk_refusals")
    op.drop_table("kiosk_sales")
    op.drop_index("ix_kiosk_issued_kind_time", table_name="kiosk_issued")
    op.drop_table("kiosk_issued")
    op.drop_index("ix_kiosk_signers_owner_role", table_name="kiosk_signers")
    op.drop_table("kiosk_signers")
