"""carduses: ticketless entry (events, tickets bound to a per-organiser pseudonym, the venue's read log)

Revision ID: 0860
Revises: 0820
Create Date: 2026-12-07 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0860"
down_revision = "0820"  # the door's challenges live in carduses_gate_challenges
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "carduses_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("venue", sa.String(length=200), nullable=False),
        sa.Column("organiser_org", sa.String(length=32), nullable=False),
        sa.Column("starts_at", _tz(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carduses_events")),
        sa.UniqueConstraint("code", name=op.f("uq_carduses_events_code")),
    )
    op.create_index(op.f("ix_carduses_events_organiser_org"), "carduses_events", ["organiser_org"])
    op.create_table(
        "carduses_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("seat", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bound_at", _tz(), nullable=False),
        sa.Column("used_at", _tz(), nullable=True),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carduses_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_carduses_tickets_number")),
        sa.UniqueConstraint("event_id", "holder", name=op.f("uq_carduses_tickets_event_id_holder")),
    )
    op.create_index(op.f("ix_carduses_tickets_event_id"), "carduses_tickets", ["event_id"])
    op.create_table(
        "carduses_ticket_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_code", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", _tz(), nullable=False),
        sa.Column("admitted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("ticket_number", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carduses_ticket_reads")),
    )
    op.create_index(op.f("ix_carduses_ticket_reads_event_code"), "carduses_ticket_reads", ["event_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_carduses_ticket_reads_event_code"), table_name="carduses_ticket_reads")
    op.drop_table("carduses_ticket_reads")
    op.drop_index(op.f("ix_carduses_tickets_event_id"), table_name="carduses_tickets")
    op.drop_table("carduses_tickets")
    op.drop_index(op.f("ix_carduses_events_organiser_org"), table_name="carduses_events")
    op.drop_table("carduses_events")
