"""health: insurers, qualifications, dispensed medicines, reception challenges and the check log

Revision ID: 0800
Revises: 0001
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0800"
down_revision = "0001"
branch_labels = ("health",)
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "health_insurers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_code", sa.String(length=32), nullable=False),
        sa.Column("insurer_number", sa.String(length=8), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_insurers")),
        sa.UniqueConstraint("org_code", name=op.f("uq_health_insurers_org_code")),
        sa.UniqueConstraint("insurer_number", name=op.f("uq_health_insurers_insurer_number")),
    )
    op.create_table(
        "health_qualifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("insurer_org", sa.String(length=32), nullable=False),
        sa.Column("person_code", sa.String(length=64), nullable=False),
        sa.Column("clearing_code", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("branch", sa.String(length=2), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("burden_percent", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_qualifications")),
    )
    op.create_index(op.f("ix_health_qualifications_insurer_org"), "health_qualifications", ["insurer_org"])
    op.create_index("ix_health_qualifications_clearing_from", "health_qualifications", ["clearing_code", "valid_from"])
    op.create_table(
        "health_dispensed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("insurer_org", sa.String(length=32), nullable=False),
        sa.Column("clearing_code", sa.String(length=64), nullable=False),
        sa.Column("dispensed_on", sa.Date(), nullable=False),
        sa.Column("medicine", sa.String(length=200), nullable=False),
        sa.Column("dose", sa.String(length=100), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("pharmacy", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_dispensed")),
    )
    op.create_index(op.f("ix_health_dispensed_clearing_code"), "health_dispensed", ["clearing_code"])
    op.create_table(
        "health_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("clinic_org", sa.String(length=32), nullable=False),
        sa.Column("share", sa.Boolean(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("used_at", _tz(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_health_challenges_token_hash")),
    )
    op.create_index(op.f("ix_health_challenges_expires_at"), "health_challenges", ["expires_at"])
    op.create_table(
        "health_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_org", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", _tz(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("insurer_org", sa.String(length=32), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_checks")),
    )
    op.create_index(op.f("ix_health_checks_clinic_org"), "health_checks", ["clinic_org"])


def downgrade() -> None:
    op.drop_index(op.f("ix_health_checks_clinic_org"), table_name="health_checks")
    op.drop_table("health_checks")
    op.drop_index(op.f("ix_health_challenges_expires_at"), table_name="health_challenges")
    op.drop_table("health_challenges")
    op.drop_index(op.f("ix_health_dispensed_clearing_code"), table_name="health_dispensed")
    op.drop_table("health_dispensed")
    op.drop_index("ix_health_qualifications_clearing_from", table_name="health_qualifications")
    op.drop_index(op.f("ix_health_qualifications_insurer_org"), table_name="health_qualifications")
    op.drop_table("health_qualifications")
    op.drop_table("health_insurers")
