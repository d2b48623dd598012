"""carduses: employee IDs on cards, gates, gate challenges and the entry log

Revision ID: 0820
Revises: 0001
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0820"
down_revision = "0001"
branch_labels = ("carduses",)
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "carduses_badges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employer_org", sa.String(length=32), nullable=False),
        sa.Column("employee_id", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("revoked_at", _tz(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carduses_badges")),
        sa.UniqueConstraint("employer_org", "employee_id", name=op.f("uq_carduses_badges_employer_org_employee_id")),
    )
    op.create_index(op.f("ix_carduses_badges_card_id"), "carduses_badges", ["card_id"])
    op.create_table(
        "carduses_gates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("employer_org", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carduses_gates")),
        sa.UniqueConstraint("code", name=op.f("uq_carduses_gates_code")),
    )
    op.create_index(op.f("ix_carduses_gates_employer_org"), "carduses_gates", ["employer_org"])
    op.create_table(
        "carduses_gate_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("gate_code", sa.String(length=32), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("used_at", _tz(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carduses_gate_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_carduses_gate_challenges_token_hash")),
    )
    op.create_index(op.f("ix_carduses_gate_challenges_expires_at"), "carduses_gate_challenges", ["expires_at"])
    op.create_table(
        "carduses_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gate_code", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", _tz(), nullable=False),
        sa.Column("admitted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("employee_id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carduses_entries")),
    )
    op.create_index(op.f("ix_carduses_entries_gate_code"), "carduses_entries", ["gate_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_carduses_entries_gate_code"), table_name="carduses_entries")
    op.drop_table("carduses_entries")
    op.drop_index(op.f("ix_carduses_gate_challenges_expires_at"), table_name="carduses_gate_challenges")
    op.drop_table("carduses_gate_challenges")
    op.drop_index(op.f("ix_carduses_gates_employer_org"), table_name="carduses_gates")
    op.drop_table("carduses_gates")
    op.drop_index(op.f("ix_carduses_badges_card_id"), table_name="carduses_badges")
    op.drop_table("carduses_badges")
