"""Idle stop: which environments have been idle past their timeout, and stopping them.

The timeout is the environment's ``spec.timeout_seconds``, capped by its organization's
``max_idle_timeout_seconds``; an environment without one takes the organization's value; with
neither, it never stops by itself. Idle means no SSH traffic and no proxied request since
``status.last_activity`` (falling back to the last status change for environments that have
never reported any). An open SSH session without traffic is idle too, unless the spec sets
``keep_alive_sessions`` -- the runner then reports open sessions as activity.

Stopping goes through the normal path: ``desired_phase`` becomes ``stopped`` with a new
``spec_version``, audited as done by the system, and the runner stops the environment the way
a user's ``roost env stop`` would -- files are kept.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.schemas.environments import EnvironmentSpec, EnvironmentStatus
from roost.core.schemas.organizations import OrgPolicy
from roost.server.services import audit, environments
from roost.server.store.rows import EnvironmentRow, OrganizationRow

log = logging.getLogger(__name__)


def timeout_seconds(spec: EnvironmentSpec, policy: OrgPolicy) -> int | None:
    cap = policy.max_idle_timeout_seconds
    if spec.timeout_seconds is None:
        return cap
    return spec.timeout_seconds if cap is None else min(spec.timeout_seconds, cap)


def idle_since(row: EnvironmentRow) -> datetime:
    last = EnvironmentStatus(**row.status).last_activity
    return last if last is not None else row.updated_at


def deadline(row: EnvironmentRow, policy: OrgPolicy) -> datetime | None:
    """When the environment stops if nothing happens, or ``None`` if it never idles out."""
    seconds = timeout_seconds(EnvironmentSpec.model_validate(row.spec), policy)
    if seconds is None:
        return None
    try:
        return idle_since(row) + timedelta(seconds=seconds)
    except OverflowError:  # a row stored before timeout_seconds was bounded: never, in effect
        return None


def is_idle(row: EnvironmentRow, policy: OrgPolicy, now: datetime) -> bool:
    if row.desired_phase != "running" or row.phase != "running":
        return False
    when = deadline(row, policy)
    return when is not None and when <= now


async def policies(session: AsyncSession) -> dict[str, OrgPolicy]:
    rows = await session.scalars(select(OrganizationRow))
    return {r.id: OrgPolicy(**r.policy) for r in rows}


async def candidates(session: AsyncSession, now: datetime) -> list[str]:
    by_org = await policies(session)
    running = await session.scalars(
        select(EnvironmentRow).where(
            EnvironmentRow.desired_phase == "running", EnvironmentRow.phase == "running"
        )
    )
    return [row.id for row in running if _is_idle_or_log(row, by_org.get(row.organization_id), now)]


def _is_idle_or_log(row: EnvironmentRow, policy: OrgPolicy | None, now: datetime) -> bool:
    """One row that cannot be read (a spec from an older, laxer version) is skipped and
    logged; it must not stop idle stop for every other environment."""
    try:
        return is_idle(row, policy or OrgPolicy(), now)
    except Exception:
        log.exception("idle stop: environment %s has an unreadable spec; skipped", row.id)
        return False


async def stop(session: AsyncSession, row: EnvironmentRow, now: datetime) -> None:
    """Set ``desired_phase`` to stopped, as the system, saying why."""
    spec = EnvironmentSpec.model_validate({**row.spec, "spec_version": row.spec_version})
    idle_for = int((now - idle_since(row)).total_seconds())
    spec.desired_phase = "stopped"
    environments.replace_spec(row, spec)
    await environments.emit(session, row, now, "MODIFIED")
    audit.record(
        session, now, None, "environment.stop", "environment", row.id,
        organization_id=row.organization_id, actor="system",
        details={"reason": "idle", "idle_seconds": idle_for},
    )  # fmt: skip
