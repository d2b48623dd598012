"""ekyc: a platform operator's businesses, challenges, verifications and use log

Revision ID: 0840
Revises: 0001
Create Date: 2026-12-07 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0840"
down_revision = "0001"
branch_labels = ("ekyc",)
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ekyc_businesses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("operator_org", sa.String(length=32), nullable=False),
        sa.Column("facts", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("registered_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ekyc_businesses")),
        sa.UniqueConstraint("code", name=op.f("uq_ekyc_businesses_code")),
    )
    op.create_index(op.f("ix_ekyc_businesses_operator_org"), "ekyc_businesses", ["operator_org"])
    op.create_table(
        "ekyc_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("business", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("used_at", _tz(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ekyc_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ekyc_challenges_token_hash")),
    )
    op.create_index(op.f("ix_ekyc_challenges_expires_at"), "ekyc_challenges", ["expires_at"])
    op.create_table(
        "ekyc_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("business", sa.String(length=32), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("facts", sa.String(length=64), nullable=False),
        sa.Column("application_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("verified_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ekyc_verifications")),
        sa.UniqueConstraint("ref", name=op.f("uq_ekyc_verifications_ref")),
    )
    op.create_index(op.f("ix_ekyc_verifications_business"), "ekyc_verifications", ["business"])
    op.create_table(
        "ekyc_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", _tz(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("verification_ref", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ekyc_uses")),
    )
    op.create_index(op.f("ix_ekyc_uses_business"), "ekyc_uses", ["business"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ekyc_uses_business"), table_name="ekyc_uses")
    op.drop_table("ekyc_uses")
    op.drop_index(op.f("ix_ekyc_verifications_business"), table_name="ekyc_verifications")
    op.drop_table("ekyc_verifications")
    op.drop_index(op.f("ix_ekyc_challenges_expires_at"), table_name="ekyc_challenges")
    op.drop_table("ekyc_challenges")
    op.drop_index(op.f("ix_ekyc_businesses_operator_org"), table_name="ekyc_businesses")
    op.drop_table("ekyc_businesses")
