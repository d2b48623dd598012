"""network: fewer indexes on the exchange records (each record is inserted, then sequenced)

The agency index served no query; the unsequenced index becomes a partial index over the few records
still waiting for the sequencer, so a sequenced record leaves it instead of staying in it for good.

Revision ID: 0401
Revises: 0400
Create Date: 2026-12-01 00:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0401"
down_revision = "0400"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("network_exchange_records", schema=None) as batch_op:
        batch_op.drop_index("ix_network_exchange_records_agency")
        batch_op.drop_index("ix_network_exchange_records_unsequenced")
    op.create_index(
        "ix_network_exchange_records_unsequenced",
        "network_exchange_records",
        ["id"],
        postgresql_where=sa.text("leaf_index IS NULL"),
        sqlite_where=sa.text("leaf_index IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_network_exchange_records_unsequenced", table_name="network_exchange_records")
    with op.batch_alter_table("network_exchange_records", schema=None) as batch_op:
        batch_op.create_index("ix_network_exchange_records_unsequenced", ["leaf_index", "id"], unique=False)
        batch_op.create_index("ix_network_exchange_records_agency", ["agency"], unique=False)
