"""ssh keys unique per user, not across users (registering a key no longer tells whether
someone else has it)

Revision ID: 0007
Revises: 0006

The table is rebuilt (create, copy, drop, rename) rather than altered: the old unique
constraint on ``fingerprint`` is unnamed, and SQLite cannot drop a constraint in place.
"""

import sqlalchemy as sa
from alembic import op

import roost.server.store.rows

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
COLUMNS = "id, user_id, name, fingerprint, algorithm, public_key, created_at"


def _create(name: str, unique: sa.UniqueConstraint) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", roost.server.store.rows.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        unique,
    )


def _rebuild(unique: sa.UniqueConstraint, fingerprint_index: bool) -> None:
    _create("ssh_keys_new", unique)
    op.execute(f"INSERT INTO ssh_keys_new ({COLUMNS}) SELECT {COLUMNS} FROM ssh_keys")  # noqa: S608
    op.drop_index("ix_ssh_keys_user_id", table_name="ssh_keys")
    op.drop_table("ssh_keys")
    op.rename_table("ssh_keys_new", "ssh_keys")
    op.create_index("ix_ssh_keys_user_id", "ssh_keys", ["user_id"], unique=False)
    if fingerprint_index:
        op.create_index("ix_ssh_keys_fingerprint", "ssh_keys", ["fingerprint"], unique=False)


def upgrade() -> None:
    _rebuild(sa.UniqueConstraint("user_id", "fingerprint", name="uq_ssh_keys_user_fingerprint"),
             fingerprint_index=True)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_ssh_keys_fingerprint", table_name="ssh_keys")
    _rebuild(sa.UniqueConstraint("fingerprint"), fingerprint_index=False)
