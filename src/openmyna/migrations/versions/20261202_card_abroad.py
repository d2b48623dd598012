"""card abroad: the country of a move abroad on the removed record, the move on the card and its certificates

A move abroad (国外転出) keeps the card and its authentication certificate; the registry records the
country beside the destination address, the card the date of the move, and the CA the date on each of
the holder's certificates so that the validity check can say the holder lives abroad.

Revision ID: 0201
Revises: 0200
Create Date: 2026-12-02 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0201"
down_revision = "0200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("destination_country", sa.String(length=2), nullable=False, server_default=""))
    with op.batch_alter_table("card_cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("abroad_since", sa.Date(), nullable=True))
    with op.batch_alter_table("jpki_certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder_abroad_since", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jpki_certificates", schema=None) as batch_op:
        batch_op.drop_column("holder_abroad_since")
    with op.batch_alter_table("card_cards", schema=None) as batch_op:
        batch_op.drop_column("abroad_since")
    with op.batch_alter_table("registry_residents", schema=None) as batch_op:
        batch_op.drop_column("destination_country")
