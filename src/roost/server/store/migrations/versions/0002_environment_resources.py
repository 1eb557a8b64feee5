"""environment resource columns (for aggregate allocation queries)

Revision ID: 0002
Revises: 0001
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("cpu", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("memory_mib", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("disk_gib", sa.Integer(), nullable=False, server_default="0"))
    bind = op.get_bind()
    envs = sa.table(
        "environments",
        *(
            sa.column(c, t)
            for c, t in (
                ("id", sa.String),
                ("spec", sa.JSON),
                ("cpu", sa.Float),
                ("memory_mib", sa.Integer),
                ("disk_gib", sa.Integer),
            )
        ),
    )
    for env_id, spec in bind.execute(sa.select(envs.c.id, envs.c.spec)).all():
        doc = json.loads(spec) if isinstance(spec, str) else spec
        res = doc.get("resources", {})
        bind.execute(
            envs.update()
            .where(envs.c.id == env_id)
            .values(
                cpu=res.get("cpu", 0),
                memory_mib=res.get("memory_mib", 0),
                disk_gib=res.get("disk_gib", 0),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("disk_gib")
        batch.drop_column("memory_mib")
        batch.drop_column("cpu")
