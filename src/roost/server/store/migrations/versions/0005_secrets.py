"""secrets (sealed under the plane's master key) and the users' dotfiles repository

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import roost.server.store.rows

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.String(length=20), nullable=True),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("env_var", sa.String(length=128), nullable=True),
        sa.Column("file_path", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", roost.server.store.rows.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", roost.server.store.rows.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "scope_id", "name"),
    )
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.create_index("ix_secrets_scope_id", ["scope_id"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dotfiles_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("dotfiles_url")
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.drop_index("ix_secrets_scope_id")
    op.drop_table("secrets")
