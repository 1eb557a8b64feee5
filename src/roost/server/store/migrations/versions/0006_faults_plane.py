"""runner draining; idempotency keys for creates

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import roost.server.store.rows

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("draining", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=20), nullable=False),
        sa.Column("created_at", roost.server.store.rows.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_created")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("runners", schema=None) as batch_op:
        batch_op.drop_column("draining")
