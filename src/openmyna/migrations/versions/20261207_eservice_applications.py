"""eservice: applications, their per-procedure items, status history, attachments and drafts

Revision ID: 0600
Revises: 0001
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0600"
down_revision = "0001"
branch_labels = ("eservice",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eservice_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("life_event", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("receipt_number", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receipt_date", sa.Date(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("content_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("signer_serial", sa.String(length=40), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eservice_applications")),
        sa.UniqueConstraint("public_id", name=op.f("uq_eservice_applications_public_id")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_eservice_applications_receipt_number")),
        sa.UniqueConstraint("subject", "content_hash", name=op.f("uq_eservice_applications_subject_content_hash")),
        sa.UniqueConstraint(
            "subject", "idempotency_key", name=op.f("uq_eservice_applications_subject_idempotency_key")
        ),
    )
    with op.batch_alter_table("eservice_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eservice_applications_municipality_code"), ["municipality_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_eservice_applications_resident_id"), ["resident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_eservice_applications_subject"), ["subject"], unique=False)

    op.create_table(
        "eservice_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("procedure_codes", sa.JSON(), nullable=False),
        sa.Column("life_event", sa.String(length=32), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("prepared", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eservice_drafts")),
        sa.UniqueConstraint("public_id", name=op.f("uq_eservice_drafts_public_id")),
    )
    with op.batch_alter_table("eservice_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eservice_drafts_subject"), ["subject"], unique=False)

    op.create_table(
        "eservice_application_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("procedure_code", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("business", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["eservice_applications.id"],
            name=op.f("fk_eservice_application_items_application_id_eservice_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eservice_application_items")),
    )
    with op.batch_alter_table("eservice_application_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eservice_application_items_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_eservice_application_items_department"), ["department"], unique=False)

    op.create_table(
        "eservice_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("procedure_code", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["eservice_applications.id"],
            name=op.f("fk_eservice_attachments_application_id_eservice_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["eservice_drafts.id"], name=op.f("fk_eservice_attachments_draft_id_eservice_drafts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eservice_attachments")),
    )
    with op.batch_alter_table("eservice_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eservice_attachments_application_id"), ["application_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_eservice_attachments_draft_id"), ["draft_id"], unique=False)

    op.create_table(
        "eservice_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["eservice_applications.id"],
            name=op.f("fk_eservice_status_history_application_id_eservice_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["eservice_application_items.id"],
            name=op.f("fk_eservice_status_history_item_id_eservice_application_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eservice_status_history")),
    )
    with op.batch_alter_table("eservice_status_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eservice_status_history_application_id"), ["application_id"], unique=False)


def downgrade() -> None:
    for table in (
        "eservice_status_history",
        "eservice_attachments",
        "eservice_application_items",
        "eservice_drafts",
        "eservice_applications",
    ):
        op.drop_table(table)  # their indexes go with them
