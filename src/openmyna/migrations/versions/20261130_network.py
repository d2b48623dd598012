"""network

Revision ID: 0400
Revises: 0001
Create Date: 2026-11-30 20:48:20.472000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0400"
down_revision = "0001"
branch_labels = ("network",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_code_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("person_link", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_code_links")),
        sa.UniqueConstraint("agency", "code", name=op.f("uq_network_code_links_agency_code")),
        sa.UniqueConstraint("agency", "person_link", name=op.f("uq_network_code_links_agency_person_link")),
    )
    op.create_table(
        "network_endpoints",
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("base_url", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("agency", name=op.f("pk_network_endpoints")),
    )
    op.create_table(
        "network_exchange_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("exchange_id", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("citizen", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("purged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_exchange_records")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_network_exchange_records_leaf_index")),
    )
    with op.batch_alter_table("network_exchange_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_network_exchange_records_agency"), ["agency"], unique=False)
        batch_op.create_index("ix_network_exchange_records_citizen", ["citizen", "side", "id"], unique=False)
        batch_op.create_index("ix_network_exchange_records_exchange", ["exchange_id"], unique=False)
        batch_op.create_index("ix_network_exchange_records_unsequenced", ["leaf_index", "id"], unique=False)

    op.create_table(
        "network_local_ids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("local_ref", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_local_ids")),
        sa.UniqueConstraint("agency", "code", name=op.f("uq_network_local_ids_agency_code")),
    )
    op.create_table(
        "network_purge_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_leaf", sa.BigInteger(), nullable=False),
        sa.Column("last_leaf", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_purge_statements")),
    )
    op.create_table(
        "network_tree_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_tree_heads")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_network_tree_heads_tree_size")),
    )
    op.create_table(
        "network_tree_nodes",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_network_tree_nodes")),
    )
    op.create_table(
        "pension_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_number", sa.String(length=10), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pension_members")),
        sa.UniqueConstraint("member_number", name=op.f("uq_pension_members_member_number")),
    )
    op.create_table(
        "pension_entitlements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("annual_amount", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["pension_members.id"], name=op.f("fk_pension_entitlements_member_id_pension_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pension_entitlements")),
    )
    with op.batch_alter_table("pension_entitlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pension_entitlements_member_id"), ["member_id"], unique=False)

    op.create_table(
        "localtax_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("income", sa.BigInteger(), nullable=False),
        sa.Column("taxable_income", sa.BigInteger(), nullable=False),
        sa.Column("municipal_tax", sa.BigInteger(), nullable=False),
        sa.Column("prefectural_tax", sa.BigInteger(), nullable=False),
        sa.Column("dependants", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["registry_residents.id"],
            name=op.f("fk_localtax_assessments_resident_id_registry_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_localtax_assessments")),
        sa.UniqueConstraint("resident_id", "fiscal_year", name=op.f("uq_localtax_assessments_resident_id_fiscal_year")),
    )
    with op.batch_alter_table("localtax_assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_localtax_assessments_resident_id"), ["resident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("localtax_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_localtax_assessments_resident_id"))

    op.drop_table("localtax_assessments")
    with op.batch_alter_table("pension_entitlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pension_entitlements_member_id"))

    op.drop_table("pension_entitlements")
    op.drop_table("pension_members")
    op.drop_table("network_tree_nodes")
    op.drop_table("network_tree_heads")
    op.drop_table("network_purge_statements")
    op.drop_table("network_local_ids")
    with op.batch_alter_table("network_exchange_records", schema=None) as batch_op:
        batch_op.drop_index("ix_network_exchange_records_unsequenced")
        batch_op.drop_index("ix_network_exchange_records_exchange")
        batch_op.drop_index("ix_network_exchange_records_citizen")
        batch_op.drop_index(batch_op.f("ix_network_exchange_records_agency"))

    op.drop_table("network_exchange_records")
    op.drop_table("network_endpoints")
    op.drop_table("network_code_links")
