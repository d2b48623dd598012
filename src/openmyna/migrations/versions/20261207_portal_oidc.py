"""portal: the OpenID provider (linked sites, consents, codes, access tokens)

Revision ID: 0530
Revises: 0001
Create Date: 2026-12-07 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0530"
down_revision = "0001"
branch_labels = ("portal_oidc",)
depends_on = None


def _timestamps(*names: str, nullable: bool = False) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.DateTime(timezone=True), nullable=nullable) for name in names]


def upgrade() -> None:
    op.create_table(
        "oidc_relying_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("sector", sa.String(length=255), nullable=False),
        *_timestamps("created_at"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["orgs_organisations.id"],
            name=op.f("fk_oidc_relying_parties_organisation_id_orgs_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_relying_parties")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oidc_relying_parties_client_id")),
    )
    op.create_table(
        "oidc_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        *_timestamps("granted_at"),
        *_timestamps("last_used_at", "revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_consents")),
        sa.UniqueConstraint("resident_id", "client_id", name=op.f("uq_oidc_consents_resident_id_client_id")),
    )
    op.create_index(op.f("ix_oidc_consents_subject"), "oidc_consents", ["subject"], unique=False)
    op.create_table(
        "oidc_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=False),
        *_timestamps("auth_time"),
        sa.Column("amr", sa.JSON(), nullable=False),
        *_timestamps("created_at", "expires_at"),
        *_timestamps("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oidc_codes_code_hash")),
    )
    op.create_index("ix_oidc_codes_client_nonce", "oidc_codes", ["client_id", "nonce"], unique=False)
    op.create_index(op.f("ix_oidc_codes_expires_at"), "oidc_codes", ["expires_at"], unique=False)
    op.create_table(
        "oidc_access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=True),
        *_timestamps("issued_at", "expires_at"),
        *_timestamps("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oidc_access_tokens_token_hash")),
    )
    op.create_index(
        "ix_oidc_access_tokens_resident_client", "oidc_access_tokens", ["resident_id", "client_id"], unique=False
    )
    op.create_index(op.f("ix_oidc_access_tokens_code_id"), "oidc_access_tokens", ["code_id"], unique=False)
    op.create_index(op.f("ix_oidc_access_tokens_expires_at"), "oidc_access_tokens", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("oidc_access_tokens")
    op.drop_table("oidc_codes")
    op.drop_table("oidc_consents")
    op.drop_table("oidc_relying_parties")
