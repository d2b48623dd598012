"""registry counter: index access events by actor, for a staff member's recent counter operations

Revision ID: 0110
Revises: 0100
Create Date: 2026-12-07 13:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0110"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_access_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_access_events_actor_time", ["actor", "occurred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_access_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_access_events_actor_time")
