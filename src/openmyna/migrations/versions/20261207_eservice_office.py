"""eservice back office: reviewers per department, items fetched over the network, reminders sent

Revision ID: 0630
Revises: 0600
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0630"
down_revision = "0600"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eservice_reviewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_code", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", "department"),
    )
    op.create_index("ix_eservice_reviewers_username", "eservice_reviewers", ["username"])
    op.create_table(
        "eservice_item_fetches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("eservice_application_items.id"), nullable=False),
        sa.Column("requester", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("data_item", sa.String(length=32), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("exchange_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_eservice_item_fetches_item_id", "eservice_item_fetches", ["item_id"])
    op.create_table(
        "eservice_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_code", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("procedure_code", "period", "subject"),
    )


def downgrade() -> None:
    op.drop_table("eservice_reminders")
    op.drop_index("ix_eservice_item_fetches_item_id", table_name="eservice_item_fetches")
    op.drop_table("eservice_item_fetches")
    op.drop_index("ix_eservice_reviewers_username", table_name="eservice_reviewers")
    op.drop_table("eservice_reviewers")
