"""network: the person map (each person's chain head in a sparse Merkle tree), signed with each tree head

Revision ID: 0402
Revises: 0401
Create Date: 2026-12-02 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0402"
down_revision = "0401"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("network_tree_heads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("map_root", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("map_signature", sa.LargeBinary(), nullable=True))
    op.create_table(
        "network_person_chains",
        sa.Column("citizen", sa.String(length=40), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("citizen", name=op.f("pk_network_person_chains")),
    )
    op.create_table(
        "network_map_nodes",
        sa.Column("path", sa.LargeBinary(length=34), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("leaf_key", sa.LargeBinary(length=32), nullable=True),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_network_map_nodes")),
    )


def downgrade() -> None:
    op.drop_table("network_map_nodes")
    op.drop_table("network_person_chains")
    with op.batch_alter_table("network_tree_heads", schema=None) as batch_op:
        batch_op.drop_column("map_signature")
        batch_op.drop_column("map_root")
