"""portal: proxy grants (代理人)

Revision ID: 0540
Revises: 0500
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0540"
down_revision = "0500"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_proxy_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal_resident_id", sa.Integer(), nullable=False),
        sa.Column("principal_subject", sa.String(length=64), nullable=False),
        sa.Column("proxy_family_name", sa.String(length=50), nullable=False),
        sa.Column("proxy_given_name", sa.String(length=50), nullable=False),
        sa.Column("proxy_birth_date", sa.Date(), nullable=False),
        sa.Column("proxy_resident_id", sa.Integer(), nullable=True),
        sa.Column("proxy_subject", sa.String(length=64), nullable=True),
        sa.Column("menus", sa.String(length=200), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("invitation_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("invitation_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_proxy_grants")),
        sa.UniqueConstraint("invitation_hash", name=op.f("uq_portal_proxy_grants_invitation_hash")),
    )
    op.create_index("ix_portal_proxy_grants_principal", "portal_proxy_grants", ["principal_resident_id"])
    op.create_index("ix_portal_proxy_grants_proxy", "portal_proxy_grants", ["proxy_resident_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_proxy_grants_proxy", table_name="portal_proxy_grants")
    op.drop_index("ix_portal_proxy_grants_principal", table_name="portal_proxy_grants")
    op.drop_table("portal_proxy_grants")
