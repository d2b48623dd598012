"""koseki: the family register (戸籍) and its members' entries

Revision ID: 0130
Revises: 0120
Create Date: 2026-12-08 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0130"
down_revision = "0120"
branch_labels = ("koseki",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "koseki_registers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("honseki_municipality_code", sa.String(length=6), nullable=False),
        sa.Column("honseki", sa.String(length=300), nullable=False),
        sa.Column("head_name", sa.String(length=100), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("made_reason", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_koseki_registers")),
    )
    op.create_index(
        op.f("ix_koseki_registers_honseki_municipality_code"), "koseki_registers", ["honseki_municipality_code"]
    )
    op.create_table(
        "koseki_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("family_name", sa.String(length=50), nullable=False),
        sa.Column("given_name", sa.String(length=50), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("father", sa.String(length=100), nullable=False),
        sa.Column("mother", sa.String(length=100), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("left_reason", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["register_id"], ["koseki_registers.id"], name=op.f("fk_koseki_members_register_id_koseki_registers")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["registry_residents.id"], name=op.f("fk_koseki_members_resident_id_registry_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_koseki_members")),
        sa.UniqueConstraint("register_id", "position", name="uq_koseki_members_register_position"),
    )
    op.create_index("ix_koseki_members_resident", "koseki_members", ["resident_id", "left_on"])


def downgrade() -> None:
    op.drop_index("ix_koseki_members_resident", table_name="koseki_members")
    op.drop_table("koseki_members")
    op.drop_index(op.f("ix_koseki_registers_honseki_municipality_code"), table_name="koseki_registers")
    op.drop_table("koseki_registers")
