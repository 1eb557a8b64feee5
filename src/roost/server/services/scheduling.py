"""Placing an environment on a runner, inside the caller's write transaction.

Used by the scheduler controller for environments waiting for a runner, and by
:func:`~roost.server.services.environments.create` for an immediate first attempt: a new
environment that fits somewhere is placed in the transaction that creates it, which saves the
round trip through the scheduler (about a third of create -> running). Both take the runner's
row lock (PostgreSQL) and count allocations in the same transaction, so two writers cannot
overbook a runner; on SQLite writers are serial anyway.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.schemas.environments import EnvironmentSpec, EnvironmentStatus
from roost.server.services import backups, environment_status, move_progress, runners
from roost.server.services.placement import Overcommit, place
from roost.server.settings import Settings
from roost.server.store.rows import EnvironmentRow, RunnerRow


def overcommit(settings: Settings) -> Overcommit:
    return Overcommit(
        cpu=settings.cpu_overcommit,
        memory=settings.memory_overcommit,
        disk=settings.disk_overcommit,
    )


async def try_place(
    session: AsyncSession, row: EnvironmentRow, now: datetime, settings: Settings
) -> bool:
    """Assign ``row`` to a runner if one fits, else record why in its ``scheduled`` condition.

    Returns whether the row changed; the caller emits the watch event (ADDED for a new row,
    MODIFIED otherwise). A reason already recorded is not written again, so a waiting
    environment does not wake every watcher on each pass.
    """
    spec = EnvironmentSpec.model_validate(row.spec)
    # one lock order for every placement (by id): unordered FOR UPDATE deadlocked on PostgreSQL
    # when replicas placed concurrently (bench/plane.py: 340 "deadlock detected" in 500 creates)
    candidates = list(
        await session.scalars(select(RunnerRow).order_by(RunnerRow.id).with_for_update())
    )
    alloc = await runners.allocations(session)
    location = await backups.latest_location(session, row.id)
    decision = place(
        spec, [runners.to_schema(r) for r in candidates], alloc, overcommit(settings), location
    )
    status = EnvironmentStatus(**row.status)
    if decision.runner is not None:
        name = decision.runner.name
        status.conditions["scheduled"] = environment_status.condition(
            "ready", f"placed on runner {name}", now, runner=name
        )
        status.message = f"placed on runner {name}; waiting for it to start"
        move_progress.set_step(status, f"placed on {name}; restoring and starting there", now)
        environment_status.apply(row, status, "pending", runner_id=decision.runner.id)
        return True
    current = status.conditions.get("scheduled")
    if current is not None and current.message == decision.reason:
        return False
    status.conditions["scheduled"] = environment_status.condition("pending", decision.reason, now)
    status.message = decision.reason
    environment_status.apply(row, status, "pending", runner_id=None)
    return True
