"""corporate: corporations, their history, activity records, imported files, API tokens and search indexes

Revision ID: 0300
Revises: 0001
Create Date: 2026-11-30

SQLite gets two FTS5 indexes (trigram over the normalised names; 2-character tokens for 1–2 character
queries); PostgreSQL gets pg_trgm over the same text and a GIN-indexed tsvector of the 2-character tokens.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0300"
down_revision = "0001"
branch_labels = ("corporate",)
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _nta_columns() -> list[sa.Column]:
    return [
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("process", sa.String(2), nullable=False),
        sa.Column("correct", sa.String(1), nullable=False),
        sa.Column("update_date", sa.Date(), nullable=False),
        sa.Column("change_date", sa.Date(), nullable=False),
        sa.Column("name", sa.String(150), nullable=False),
        sa.Column("name_image_id", sa.String(8)),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("prefecture_name", sa.String(10)),
        sa.Column("city_name", sa.String(20)),
        sa.Column("street_number", sa.String(300)),
        sa.Column("address_image_id", sa.String(8)),
        sa.Column("prefecture_code", sa.String(2)),
        sa.Column("city_code", sa.String(3)),
        sa.Column("post_code", sa.String(7)),
        sa.Column("address_outside", sa.String(300)),
        sa.Column("address_outside_image_id", sa.String(8)),
        sa.Column("close_date", sa.Date()),
        sa.Column("close_cause", sa.String(2)),
        sa.Column("successor_corporate_number", sa.String(13)),
        sa.Column("change_cause", sa.String(500)),
        sa.Column("assignment_date", sa.Date(), nullable=False),
        sa.Column("latest", sa.String(1), nullable=False),
        sa.Column("en_name", sa.String(300)),
        sa.Column("en_prefecture_name", sa.String(9)),
        sa.Column("en_city_name", sa.String(600)),
        sa.Column("en_address_outside", sa.String(600)),
        sa.Column("furigana", sa.String(500)),
        sa.Column("hihyoji", sa.String(1), nullable=False),
        sa.Column("digest", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "corporate_corporations",
        sa.Column("number", BigId, autoincrement=False, nullable=False),
        *_nta_columns(),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_corporate_corporations")),
    )
    op.create_index("ix_corporate_corporations_update_date", "corporate_corporations", ["update_date"])
    op.create_index(
        "ix_corporate_corporations_prefecture_city", "corporate_corporations", ["prefecture_code", "city_code"]
    )
    op.create_table(
        "corporate_versions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        *_nta_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corporate_versions")),
        sa.UniqueConstraint("number", "digest", name="uq_corporate_versions_number_digest"),
    )
    op.create_index("ix_corporate_versions_update_date", "corporate_versions", ["update_date"])
    op.create_table(
        "corporate_activities",
        sa.Column("id", BigId, nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("amount", sa.BigInteger()),
        sa.Column("date", sa.Date()),
        sa.Column("government_departments", sa.String(200), nullable=False),
        sa.Column("target", sa.String(500)),
        sa.Column("category", sa.String(200)),
        sa.Column("note", sa.String(1000)),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("digest", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corporate_activities")),
        sa.UniqueConstraint("digest", name=op.f("uq_corporate_activities_digest")),
    )
    op.create_index("ix_corporate_activities_number", "corporate_activities", ["number"])
    op.create_index("ix_corporate_activities_kind_date", "corporate_activities", ["kind", "date"])
    op.create_table(
        "corporate_imported_files",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_corporate_imported_files")),
    )
    op.create_table(
        "corporate_api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corporate_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_corporate_api_tokens_token_sha256")),
    )
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("ALTER TABLE corporate_corporations ADD COLUMN bigrams tsvector NOT NULL DEFAULT ''")
        op.execute(
            "CREATE INDEX ix_corporate_corporations_trgm ON corporate_corporations USING gin (search_text gin_trgm_ops)"
        )
        op.execute("CREATE INDEX ix_corporate_corporations_bigrams ON corporate_corporations USING gin (bigrams)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE corporate_search_trigram USING fts5(search_text, "
            "content='corporate_corporations', content_rowid='number', tokenize='trigram')"
        )
        # No prefix index: it would triple the postings written on import; 1-character queries scan terms.
        op.execute("CREATE VIRTUAL TABLE corporate_search_bigram USING fts5(tokens, content='', tokenize='ascii')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS corporate_search_bigram")
        op.execute("DROP TABLE IF EXISTS corporate_search_trigram")
    for table in (
        "corporate_api_tokens",
        "corporate_imported_files",
        "corporate_activities",
        "corporate_versions",
        "corporate_corporations",
    ):
        op.drop_table(table)
