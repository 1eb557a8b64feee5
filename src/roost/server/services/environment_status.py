"""The observed half of an environment: what its runner reports, and what the plane's
controllers record (placement, unknown when the runner goes quiet, removal).

Every status write bumps ``status_version`` and emits a watch event. Conditions merge by part:
a report that mentions ``machine`` replaces only ``machine``.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Conflict, InvalidInput, NotFound
from roost.core.schemas.base import Condition
from roost.core.schemas.environments import Environment, EnvironmentStatus, StatusReport
from roost.server.services import audit, environments, move_progress
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow


async def report(
    ctx: Context, principal: Principal, env_id: str, body: StatusReport
) -> Environment:
    """A runner's report on an environment assigned to it."""
    if principal.kind != "runner":
        raise NotFound("only the environment's runner reports its status")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await environments.load(session, principal, env_id, for_update=True)
        if body.observed_spec_version > row.spec_version:
            raise InvalidInput(
                f"observed_spec_version {body.observed_spec_version} is newer than the spec "
                f"({row.spec_version})"
            )
        if body.observed_spec_version < int(row.status.get("observed_spec_version", 0)):
            raise Conflict(
                "a newer status was already reported for this environment",
                code="stale_status",
            )
        status = EnvironmentStatus(**row.status)
        status.observed_spec_version = body.observed_spec_version
        status.message = body.message
        status.conditions.update(body.conditions)
        if body.endpoints is not None:
            status.endpoints = body.endpoints
        if body.last_activity is not None:
            status.last_activity = body.last_activity
        if body.phase == "running" and row.phase != "running":
            status.last_activity = now  # starting is activity: the idle clock starts afresh
        move_progress.on_report(status, body.phase, row.runner_id, now)
        await write(session, row, now, status, body.phase)
        return environments.to_schema(row)


async def write(
    session: AsyncSession,
    row: EnvironmentRow,
    now: datetime,
    status: EnvironmentStatus,
    phase: str,
    *,
    runner_id: str | None = None,
    reassign: bool = False,
) -> None:
    """Store ``status`` (and optionally a new runner) and emit MODIFIED."""
    prev_runner = row.runner_id
    apply(row, status, phase, runner_id=runner_id if reassign else row.runner_id)
    await environments.emit(
        session,
        row,
        now,
        "MODIFIED",
        prev_runner_id=prev_runner if prev_runner != row.runner_id else None,
    )


def apply(
    row: EnvironmentRow, status: EnvironmentStatus, phase: str, *, runner_id: str | None
) -> None:
    """Put ``status``, ``phase`` and the runner on the row (no event: the caller emits one)."""
    row.runner_id = runner_id
    status.runner_id = runner_id
    status.phase = phase  # type: ignore[assignment]
    row.phase = phase
    row.status_version += 1
    status.status_version = row.status_version
    row.status = status.model_dump(mode="json")


def condition(phase: str, message: str, now: datetime, **details: Any) -> Condition:
    return Condition(phase=phase, message=message, updated_at=now, details=details)


async def set_condition(
    session: AsyncSession,
    row: EnvironmentRow,
    now: datetime,
    part: str,
    cond: Condition,
    *,
    phase: str | None = None,
    message: str | None = None,
) -> None:
    status = EnvironmentStatus(**row.status)
    status.conditions[part] = cond
    if message is not None:
        status.message = message
    await write(session, row, now, status, phase or row.phase)


async def remove(ctx: Context, session: AsyncSession, row: EnvironmentRow, now: datetime) -> None:
    """Delete the row for good (after its runner confirmed, or if it never had one)."""
    await environments.emit(session, row, now, "DELETED")
    audit.record(
        session,
        now,
        None,
        "environment.removed",
        "environment",
        row.id,
        organization_id=row.organization_id,
        actor="system",
    )
    await session.delete(row)
