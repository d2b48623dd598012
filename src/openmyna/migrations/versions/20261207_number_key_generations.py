"""numbers: key generations for the My Number at rest, and each resident's never-rotated pseudonym

Residents already stored are generation 0 (the layout before generations: their lookup is the person
link), so their pseudonym is computed from it here; a database without residents starts at generation 1,
whose lookup key is separate from the link. ``openmyna keys rotate`` moves rows to the next generation.

Revision ID: 0010
Revises: 0001
Create Date: 2026-12-07 10:30:00
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = op.create_table(
        "numbers_key_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("current", sa.Integer(), nullable=False),
        sa.Column("previous", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_numbers_key_state")),
    )
    with op.batch_alter_table("registry_residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("my_number_generation", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("pseudonym", sa.String(length=40), nullable=True))
    bind = op.get_bind()
    hex_lookup = (
        "encode(my_number_lookup, 'hex')" if bind.dialect.name == "postgresql" else "lower(hex(my_number_lookup))"
    )
    op.execute(f"UPDATE registry_residents SET pseudonym = 'person:' || substr({hex_lookup}, 1, 32)")
    with op.batch_alter_table("registry_residents", schema=None) as batch_op:
        batch_op.alter_column("pseudonym", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_index(batch_op.f("ix_registry_residents_pseudonym"), ["pseudonym"], unique=False)
    stored = bind.execute(sa.text("SELECT count(*) FROM registry_residents")).scalar_one()
    op.bulk_insert(
        state, [{"id": 1, "current": 0 if stored else 1, "previous": None, "changed_at": dt.datetime.now(dt.UTC)}]
    )


def downgrade() -> None:
    with op.batch_alter_table("registry_residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_residents_pseudonym"))
        batch_op.drop_column("pseudonym")
        batch_op.drop_column("my_number_generation")
    op.drop_table("numbers_key_state")
