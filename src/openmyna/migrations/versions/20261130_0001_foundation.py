"""foundation: numbers, organisations, registry, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-30 20:31:31.814476
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_access_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_org", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_access_events")),
    )
    with op.batch_alter_table("audit_access_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_access_events_subject_time", ["subject", "occurred_at"], unique=False)

    op.create_table(
        "numbers_issued",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lookup", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_numbers_issued")),
        sa.UniqueConstraint("lookup", name=op.f("uq_numbers_issued_lookup")),
    )
    op.create_table(
        "orgs_organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("custodial_key", sa.LargeBinary(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orgs_organisations")),
        sa.UniqueConstraint("code", name=op.f("uq_orgs_organisations_code")),
    )
    op.create_table(
        "orgs_spent_assertions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orgs_spent_assertions")),
        sa.UniqueConstraint("client_id", "jti", name=op.f("uq_orgs_spent_assertions_client_id_jti")),
    )
    with op.batch_alter_table("orgs_spent_assertions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orgs_spent_assertions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "registry_households",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("postal_code", sa.String(length=7), nullable=False),
        sa.Column("address_town", sa.String(length=100), nullable=False),
        sa.Column("address_block", sa.String(length=100), nullable=False),
        sa.Column("address_building", sa.String(length=100), nullable=False),
        sa.Column("formed_on", sa.Date(), nullable=False),
        sa.Column("dissolved_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_households")),
    )
    op.create_table(
        "orgs_staff_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["orgs_organisations.id"],
            name=op.f("fk_orgs_staff_users_organisation_id_orgs_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orgs_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_orgs_staff_users_username")),
    )
    op.create_table(
        "registry_residents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("my_number_lookup", sa.LargeBinary(length=32), nullable=False),
        sa.Column("my_number_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("relationship_code", sa.String(length=24), nullable=False),
        sa.Column("family_name", sa.String(length=50), nullable=False),
        sa.Column("given_name", sa.String(length=50), nullable=False),
        sa.Column("family_name_kana", sa.String(length=100), nullable=False),
        sa.Column("given_name_kana", sa.String(length=100), nullable=False),
        sa.Column(
            "full_name",
            sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "full_kana",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("former_family_name", sa.String(length=50), nullable=False),
        sa.Column("former_family_name_kana", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("prefecture", sa.String(length=10), nullable=False),
        sa.Column("city", sa.String(length=50), nullable=False),
        sa.Column("postal_code", sa.String(length=7), nullable=False),
        sa.Column("address_town", sa.String(length=100), nullable=False),
        sa.Column("address_block", sa.String(length=100), nullable=False),
        sa.Column("address_building", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("became_resident_on", sa.Date(), nullable=False),
        sa.Column("address_since", sa.Date(), nullable=False),
        sa.Column("previous_address", sa.String(length=300), nullable=False),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("destination_address", sa.String(length=300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["registry_households.id"],
            name=op.f("fk_registry_residents_household_id_registry_households"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_residents")),
        sa.UniqueConstraint("resident_code", name=op.f("uq_registry_residents_resident_code")),
    )
    with op.batch_alter_table("registry_residents", schema=None) as batch_op:
        batch_op.create_index("ix_registry_residents_birth_date", ["birth_date"], unique=False)
        batch_op.create_index("ix_registry_residents_full_kana", ["full_kana"], unique=False)
        batch_op.create_index("ix_registry_residents_full_name", ["full_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_registry_residents_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registry_residents_my_number_lookup"), ["my_number_lookup"], unique=False)

    op.create_table(
        "registry_resident_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("notified_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["registry_residents.id"],
            name=op.f("fk_registry_resident_history_resident_id_registry_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_resident_history")),
    )
    with op.batch_alter_table("registry_resident_history", schema=None) as batch_op:
        batch_op.create_index("ix_registry_resident_history_resident_seq", ["resident_id", "seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("registry_resident_history", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_resident_history_resident_seq")

    op.drop_table("registry_resident_history")
    with op.batch_alter_table("registry_residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_residents_my_number_lookup"))
        batch_op.drop_index(batch_op.f("ix_registry_residents_household_id"))
        batch_op.drop_index("ix_registry_residents_full_name")
        batch_op.drop_index("ix_registry_residents_full_kana")
        batch_op.drop_index("ix_registry_residents_birth_date")

    op.drop_table("registry_residents")
    op.drop_table("orgs_staff_users")
    op.drop_table("registry_households")
    with op.batch_alter_table("orgs_spent_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orgs_spent_assertions_expires_at"))

    op.drop_table("orgs_spent_assertions")
    op.drop_table("orgs_organisations")
    op.drop_table("numbers_issued")
    with op.batch_alter_table("audit_access_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_access_events_subject_time")

    op.drop_table("audit_access_events")
