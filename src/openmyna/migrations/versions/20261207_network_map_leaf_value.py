"""network: each person map leaf keeps the rest of its preimage (count and chain head), for proofs of absence

Revision ID: 0403
Revises: 0402
Create Date: 2026-12-07 10:30:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0403"
down_revision = "0402"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("network_map_nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leaf_value", sa.LargeBinary(length=40), nullable=True))
    connection = op.get_bind()
    query = sa.text("SELECT leaf_key, path FROM network_map_nodes WHERE leaf_key IS NOT NULL")
    leaves = {bytes(key): bytes(path) for key, path in connection.execute(query).all()}
    update = sa.text("UPDATE network_map_nodes SET leaf_value = :value WHERE path = :path")
    batch: list[dict[str, bytes]] = []
    chains = connection.execute(sa.text("SELECT citizen, count, head FROM network_person_chains")).all()
    for citizen, count, head in chains:
        path = leaves.get(hashlib.sha256(citizen.encode()).digest())
        if path is not None:
            batch.append({"path": path, "value": int(count).to_bytes(8, "big") + bytes(head)})
        if len(batch) >= 5000:
            connection.execute(update, batch)
            batch = []
    if batch:
        connection.execute(update, batch)


def downgrade() -> None:
    with op.batch_alter_table("network_map_nodes", schema=None) as batch_op:
        batch_op.drop_column("leaf_value")
