"""portal: notices, send jobs, e-mails, delivery consents and deliveries, account settings, inquiries

Revision ID: 0510
Revises: 0001
Create Date: 2026-12-07 10:05:58.475578
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0510"
down_revision = "0001"
branch_labels = ("portal_notices",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_delivery_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("org_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_delivery_consents")),
    )
    with op.batch_alter_table("notice_delivery_consents", schema=None) as batch_op:
        batch_op.create_index("ix_notice_delivery_consents_org_subject", ["org_code", "subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_delivery_consents_subject"), ["subject"], unique=False)

    op.create_table(
        "notice_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_org", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_messages")),
    )
    op.create_table(
        "portal_account_settings",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("nickname", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mail_kinds", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_portal_account_settings")),
    )
    op.create_table(
        "portal_email_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_email_verifications")),
    )
    with op.batch_alter_table("portal_email_verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_email_verifications_subject"), ["subject"], unique=False)

    op.create_table(
        "portal_inquiries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reply_email", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_inquiries")),
    )
    with op.batch_alter_table("portal_inquiries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_inquiries_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_portal_inquiries_subject"), ["subject"], unique=False)

    op.create_table(
        "notice_send_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_code", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("mail_count", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["notice_messages.id"], name=op.f("fk_notice_send_jobs_message_id_notice_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_send_jobs")),
        sa.UniqueConstraint("org_code", "idempotency_key", name=op.f("uq_notice_send_jobs_org_code_idempotency_key")),
    )
    with op.batch_alter_table("notice_send_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_send_jobs_status"), ["status"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["notice_messages.id"], name=op.f("fk_notices_message_id_notice_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("message_id", "subject", name=op.f("uq_notices_message_id_subject")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_subject_id", ["subject", "id"], unique=False)

    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("org_code", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["notice_delivery_consents.id"],
            name=op.f("fk_notice_deliveries_consent_id_notice_delivery_consents"),
        ),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_notice_deliveries_notice_id_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_deliveries")),
        sa.UniqueConstraint("notice_id", "org_code", name=op.f("uq_notice_deliveries_notice_id_org_code")),
    )
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_notice_deliveries_org_id", ["org_code", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_deliveries_subject"), ["subject"], unique=False)

    op.create_table(
        "notice_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_notice_mails_notice_id_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_mails")),
        sa.UniqueConstraint("notice_id", name=op.f("uq_notice_mails_notice_id")),
    )
    with op.batch_alter_table("notice_mails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_mails_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice_mails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_mails_status"))

    op.drop_table("notice_mails")
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_deliveries_subject"))
        batch_op.drop_index("ix_notice_deliveries_org_id")

    op.drop_table("notice_deliveries")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_subject_id")

    op.drop_table("notices")
    with op.batch_alter_table("notice_send_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_send_jobs_status"))

    op.drop_table("notice_send_jobs")
    with op.batch_alter_table("portal_inquiries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_inquiries_subject"))
        batch_op.drop_index(batch_op.f("ix_portal_inquiries_received_at"))

    op.drop_table("portal_inquiries")
    with op.batch_alter_table("portal_email_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_email_verifications_subject"))

    op.drop_table("portal_email_verifications")
    op.drop_table("portal_account_settings")
    op.drop_table("notice_messages")
    with op.batch_alter_table("notice_delivery_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_delivery_consents_subject"))
        batch_op.drop_index("ix_notice_delivery_consents_org_subject")

    op.drop_table("notice_delivery_consents")
