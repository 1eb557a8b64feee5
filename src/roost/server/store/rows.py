"""Database rows (SQLAlchemy 2 ``Mapped``).

Portable SQL only: everything here runs on SQLite and PostgreSQL. JSON columns hold documents
whose shape is owned by the wire schemas in :mod:`roost.core.schemas` (specs, statuses, policies);
columns that queries filter on (``desired_phase``, ``phase``, ``runner_id``) are copied out of
them.

Leased rows (environments, runners) carry ``lock_token`` / ``lock_expires_at``: a controller
takes a row by setting both where the lease is free or expired, works outside any transaction,
and applies its result only ``WHERE lock_token = <its token>``.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ID = String(20)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use roost.core.clock")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class OrganizationRow(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    dotfiles_url: Mapped[str | None] = mapped_column(Text, default=None)
    """The user's dotfiles repository, installed into each new environment they own."""


class MembershipRow(Base):
    __tablename__ = "memberships"
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class TokenRow(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    """Hex SHA-256 of the secret part; the secret itself is never stored."""
    scope: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    runner_id: Mapped[str | None] = mapped_column(ID)
    environment_id: Mapped[str | None] = mapped_column(ID)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    repo_url: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class EnvironmentClassRow(Base):
    __tablename__ = "environment_classes"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class RunnerRow(Base):
    __tablename__ = "runners"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    region: Mapped[str] = mapped_column(String(63), default="default")
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The runner's last :class:`~roost.core.schemas.runners.RunnerInfo`."""
    state: Mapped[str] = mapped_column(String(16), default="online")
    """``online``, ``offline`` (heartbeats overdue) or ``lost`` (declared gone for good: its
    environments were handed back to their last backups; see ``services/runner_loss.py``)."""
    draining: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """No new placements; ``roost runner drain`` moves its environments off."""
    last_heartbeat: Mapped[datetime | None]
    created_at: Mapped[datetime]
    resource_version: Mapped[int] = mapped_column(BigInteger, default=0)
    lock_token: Mapped[str | None] = mapped_column(String(32))
    lock_expires_at: Mapped[datetime | None]


class EnvironmentRow(Base):
    __tablename__ = "environments"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        Index("ix_environments_runner", "runner_id"),
        Index("ix_environments_phase", "desired_phase", "phase"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(63))
    spec: Mapped[dict[str, Any]]
    spec_version: Mapped[int] = mapped_column(Integer, default=1)
    desired_phase: Mapped[str] = mapped_column(String(16))
    status: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status_version: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str] = mapped_column(String(16), default="pending")
    runner_id: Mapped[str | None] = mapped_column(ID)
    cpu: Mapped[float] = mapped_column(Float, default=0.0)
    memory_mib: Mapped[int] = mapped_column(Integer, default=0)
    disk_gib: Mapped[int] = mapped_column(Integer, default=0)
    """Copied from ``spec.resources`` so that runner allocations are one aggregate query."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resource_version: Mapped[int] = mapped_column(BigInteger, default=0)
    lock_token: Mapped[str | None] = mapped_column(String(32))
    lock_expires_at: Mapped[datetime | None]


class IdempotencyKeyRow(Base):
    """A create's ``Idempotency-Key``, per user: the same key again gets the same environment
    (a retry after a lost answer must not make a second one). Kept for a bounded time."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_created", "created_at"),)
    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the request body: the same key with another body is refused."""
    environment_id: Mapped[str] = mapped_column(ID)
    created_at: Mapped[datetime]


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_org", "organization_id", "id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    at: Mapped[datetime]
    organization_id: Mapped[str | None] = mapped_column(ID)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="allowed")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ResourceEventRow(Base):
    """One change to a watched object; ``id`` is the global resource version.

    Ids come from the ``resource_version`` counter row, incremented inside the writing
    transaction: on PostgreSQL the row lock orders commits by version, so a watcher that has seen
    version N can never later find a committed N-1 (which plain sequences allow).
    """

    __tablename__ = "resource_events"
    __table_args__ = (Index("ix_events_at", "at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(8))
    object_id: Mapped[str] = mapped_column(ID)
    organization_id: Mapped[str | None] = mapped_column(ID)
    owner_id: Mapped[str | None] = mapped_column(ID)
    runner_id: Mapped[str | None] = mapped_column(ID)
    prev_runner_id: Mapped[str | None] = mapped_column(ID)
    at: Mapped[datetime]


class CounterRow(Base):
    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class SshKeyRow(Base):
    """A user's SSH public key; the gateway finds it by the environment's owner and the key's
    fingerprint."""

    __tablename__ = "ssh_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "fingerprint", name="uq_ssh_keys_user_fingerprint"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    """``SHA256:<base64>`` of the key blob. Unique per user, not across users: refusing a key
    someone else holds would tell anyone who registered what (and a key opens only its own
    user's environments: the gateway matches it against the environment's owner)."""
    algorithm: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class BackupRepositoryRow(Base):
    """One restic repository: per project, or per organization for environments without one.

    ``password`` is restic's key to the repository, generated on first use and handed only to
    runners (see ``services/backups.py``), sealed under the secrets master key
    (``services/repository_keys.py``; rows from before sealing are sealed at next use).
    """

    __tablename__ = "backup_repositories"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    """``project-<id>`` or ``org-<id>``: also the repository's directory name."""
    organization_id: Mapped[str] = mapped_column(ID)
    project_id: Mapped[str | None] = mapped_column(ID)
    password: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class BackupRow(Base):
    """A verified restic snapshot of an environment. Outlives the environment (no foreign key):
    deleting an environment starts its backups' retention, it does not drop them."""

    __tablename__ = "backups"
    __table_args__ = (
        Index("ix_backups_environment", "environment_id", "seq"),
        Index("ix_backups_state", "state", "delete_after"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(ID)
    seq: Mapped[int] = mapped_column(Integer, default=1)
    """1, 2, 3... per environment: the latest backup is the highest (timestamps can tie)."""
    organization_id: Mapped[str] = mapped_column(ID)
    project_id: Mapped[str | None] = mapped_column(ID)
    repository: Mapped[str] = mapped_column(String(80))
    location: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="stop")
    state: Mapped[str] = mapped_column(String(16), default="kept")
    """``kept``, or ``deleting`` once ``delete_after`` is set (superseded, or its environment
    deleted): any runner at ``location`` forgets it after that time and the row goes."""
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    added_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    writable_layer: Mapped[bool] = mapped_column(Boolean, default=False)
    image_ref: Mapped[str] = mapped_column(Text, default="")
    image_digest: Mapped[str] = mapped_column(String(80), default="")
    runner_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime]
    delete_after: Mapped[datetime | None]


class SecretRow(Base):
    """A secret, sealed (``services/crypto.py``): the value is never stored in clear.

    ``scope_id`` is the organization, project or user the secret belongs to; a name is unique
    within it. ``organization_id`` is set for organization and project secrets (listing and
    audit), and ``None`` for user secrets, which follow their user into every organization.
    """

    __tablename__ = "secrets"
    __table_args__ = (
        UniqueConstraint("scope", "scope_id", "name"),
        Index("ix_secrets_scope_id", "scope_id"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str] = mapped_column(ID)
    organization_id: Mapped[str | None] = mapped_column(ID)
    name: Mapped[str] = mapped_column(String(63))
    env_var: Mapped[str | None] = mapped_column(String(128))
    file_path: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(16))
    """Which master key sealed ``sealed_key`` (rotation opens old rows with the old key)."""
    sealed_key: Mapped[str] = mapped_column(Text)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64), default="")
