"""registry: seal registrations (印鑑登録) with the seal image and the 印鑑登録証 number

Revision ID: 0120
Revises: 0100
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0120"
down_revision = "0100"
branch_labels = ("registry_seals",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_seal_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("card_number", sa.String(length=16), nullable=False),
        sa.Column("seal_image", sa.LargeBinary(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("abolished_on", sa.Date(), nullable=True),
        sa.Column("abolished_reason", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["registry_residents.id"],
            name=op.f("fk_registry_seal_registrations_resident_id_registry_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_seal_registrations")),
        sa.UniqueConstraint("card_number", name=op.f("uq_registry_seal_registrations_card_number")),
    )
    op.create_index(
        "ix_registry_seal_registrations_resident", "registry_seal_registrations", ["resident_id", "abolished_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_registry_seal_registrations_resident", table_name="registry_seal_registrations")
    op.drop_table("registry_seal_registrations")
