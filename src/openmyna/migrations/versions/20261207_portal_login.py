"""portal: login transactions for card and QR logins

Revision ID: 0500
Revises: 0100
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0500"
down_revision = "0100"
branch_labels = ("portal_login",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_login_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("browser_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("failure", sa.String(length=32), nullable=False),
        sa.Column("tries_left", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_login_transactions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_login_transactions_token_hash")),
    )
    op.create_index(
        "ix_portal_login_transactions_expires_at", "portal_login_transactions", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_portal_login_transactions_expires_at", table_name="portal_login_transactions")
    op.drop_table("portal_login_transactions")
