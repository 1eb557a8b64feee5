"""backups: restic repositories (with their keys) and verified snapshots of environments

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import roost.server.store.rows

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_repositories",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("organization_id", sa.String(length=20), nullable=False),
        sa.Column("project_id", sa.String(length=20), nullable=True),
        sa.Column("password", sa.String(length=128), nullable=False),
        sa.Column("created_at", roost.server.store.rows.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "backups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.String(length=20), nullable=False),
        sa.Column("project_id", sa.String(length=20), nullable=True),
        sa.Column("repository", sa.String(length=80), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("added_bytes", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("writable_layer", sa.Boolean(), nullable=False),
        sa.Column("image_ref", sa.Text(), nullable=False),
        sa.Column("image_digest", sa.String(length=80), nullable=False),
        sa.Column("runner_id", sa.String(length=20), nullable=True),
        sa.Column("created_at", roost.server.store.rows.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "delete_after", roost.server.store.rows.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backups_environment", "backups", ["environment_id", "seq"])
    op.create_index("ix_backups_state", "backups", ["state", "delete_after"])


def downgrade() -> None:
    op.drop_index("ix_backups_state", table_name="backups")
    op.drop_index("ix_backups_environment", table_name="backups")
    op.drop_table("backups")
    op.drop_table("backup_repositories")
