"""jpki and card: the two CAs, certificates, CRLs; cards, their sealed chips and lifecycle events

Revision ID: 0200
Revises: 0001
Create Date: 2026-11-30 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200"
down_revision = "0001"
branch_labels = ("jpki_card",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jpki_authorities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("signer_ref", sa.String(length=500), nullable=False),
        sa.Column("responder_certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("responder_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("name_hash_sha1", sa.LargeBinary(length=20), nullable=False),
        sa.Column("key_hash_sha1", sa.LargeBinary(length=20), nullable=False),
        sa.Column("crl_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jpki_authorities")),
        sa.UniqueConstraint("kind", name=op.f("uq_jpki_authorities_kind")),
    )
    op.create_table(
        "jpki_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issue_id", sa.String(length=32), nullable=False),
        sa.Column("holder_ref", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("replaced_by_serial", sa.String(length=40), nullable=True),
        sa.Column("ocsp_der", sa.LargeBinary(), nullable=True),
        sa.Column("ocsp_produced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["jpki_authorities.id"], name=op.f("fk_jpki_certificates_authority_id_jpki_authorities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jpki_certificates")),
        sa.UniqueConstraint("issue_id", name=op.f("uq_jpki_certificates_issue_id")),
    )
    op.create_table(
        "jpki_crls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["jpki_authorities.id"], name=op.f("fk_jpki_crls_authority_id_jpki_authorities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jpki_crls")),
    )
    op.create_table(
        "card_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("employer_code", sa.String(length=32), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("with_signing", sa.Boolean(), nullable=False),
        sa.Column("chip_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("auth_serial", sa.String(length=40), nullable=True),
        sa.Column("sign_serial", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_cards")),
    )
    op.create_table(
        "card_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("actor_org", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["card_cards.id"], name=op.f("fk_card_events_card_id_card_cards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_events")),
    )
    op.create_index(
        "ix_jpki_certificates_authority_serial", "jpki_certificates", ["authority_id", "serial"], unique=True
    )
    op.create_index("ix_jpki_certificates_holder_ref", "jpki_certificates", ["holder_ref"], unique=False)
    op.create_index("ix_jpki_certificates_serial", "jpki_certificates", ["serial"], unique=False)
    op.create_index("ix_jpki_crls_authority_number", "jpki_crls", ["authority_id", "number"], unique=True)
    op.create_index("ix_card_cards_resident_state", "card_cards", ["resident_id", "state"], unique=False)
    op.create_index("ix_card_events_card_id", "card_events", ["card_id"], unique=False)
    op.create_index("ix_card_events_event_on", "card_events", ["event", "on"], unique=False)


def downgrade() -> None:
    for table in ("card_events", "card_cards", "jpki_crls", "jpki_certificates", "jpki_authorities"):
        op.drop_table(table)
