"""Quotas (see :mod:`roost.core.schemas.quotas`): reading and setting them, and the check made
whenever an environment is created, started, or given another class.

The check counts the organization's (and the owner's) environments in the same write
transaction that adds one; on PostgreSQL two concurrent creations may both pass by one, which
a quota tolerates (it bounds abuse, it is not billing).
"""

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Conflict, Forbidden
from roost.core.schemas.organizations import OrgPolicy
from roost.core.schemas.projects import Resources
from roost.core.schemas.quotas import Quota, Quotas
from roost.server.services import audit, organizations
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, OrganizationRow


class QuotaExceeded(Conflict):
    code = "quota_exceeded"


@dataclass(frozen=True)
class Usage:
    environments: int
    running: int
    cpu: float
    memory_mib: int
    disk_gib: int


async def get(ctx: Context, principal: Principal, ref: str) -> Quotas:
    async with ctx.db.read() as session:
        org = await organizations.resolve(session, principal, ref)
        return OrgPolicy(**org.policy).quotas


async def put(ctx: Context, principal: Principal, ref: str, body: Quotas) -> Quotas:
    if not principal.is_admin:
        raise Forbidden("quotas are set by platform admins")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        org = await organizations.resolve(session, principal, ref)
        org.policy = {**org.policy, "quotas": body.model_dump(mode="json")}
        audit.record(session, now, principal, "organization.quotas", "organization", org.id,
                     organization_id=org.id, details=body.model_dump(mode="json"))  # fmt: skip
        return body


async def check(
    session: AsyncSession, principal: Principal, env: EnvironmentRow | None, *,
    org_id: str, resources: Resources, running: bool,
) -> None:  # fmt: skip
    """Raise :class:`QuotaExceeded` if the organization or the owner would go over a quota
    with this environment (new, or ``env`` as it would become)."""
    org = await session.get(OrganizationRow, org_id)
    quotas = OrgPolicy(**org.policy).quotas if org else Quotas()
    exclude = env.id if env else None
    used = await _usage(session, org_id, None, exclude)
    _compare(used, quotas.organization, resources, running, "the organization's")
    if not principal.is_admin:
        owner = env.owner_id if env else principal.user_id
        used = await _usage(session, org_id, owner, exclude)
        _compare(used, quotas.per_user, resources, running, "the per-user")


async def _usage(
    session: AsyncSession, org_id: str, owner_id: str | None, exclude: str | None
) -> Usage:
    running = EnvironmentRow.desired_phase == "running"
    query = select(
        func.count(),
        func.sum(case((running, 1), else_=0)),
        func.sum(case((running, EnvironmentRow.cpu), else_=0.0)),
        func.sum(case((running, EnvironmentRow.memory_mib), else_=0)),
        func.sum(EnvironmentRow.disk_gib),
    ).where(EnvironmentRow.organization_id == org_id, EnvironmentRow.desired_phase != "deleted")
    if owner_id is not None:
        query = query.where(EnvironmentRow.owner_id == owner_id)
    if exclude is not None:
        query = query.where(EnvironmentRow.id != exclude)
    count, run, cpu, memory, disk = (await session.execute(query)).one()
    return Usage(int(count or 0), int(run or 0), float(cpu or 0), int(memory or 0), int(disk or 0))


def _compare(used: Usage, quota: Quota, res: Resources, running: bool, scope: str) -> None:
    wanted: list[tuple[str, float, float | None]] = [
        ("environments", used.environments + 1, quota.environments),
        ("disk_gib", used.disk_gib + res.disk_gib, quota.disk_gib),
    ]
    if running:  # CPU and memory count only for environments meant to run
        wanted += [
            ("running environments", used.running + 1, quota.running),
            ("cpu", used.cpu + res.cpu, quota.cpu),
            ("memory_mib", used.memory_mib + res.memory_mib, quota.memory_mib),
        ]
    for what, total, limit in wanted:
        if limit is not None and total > limit:
            raise QuotaExceeded(
                f"{scope} quota of {limit:g} {what} would be exceeded ({total:g} with this "
                "environment); stop or delete environments, or ask a platform admin to raise "
                "it (`PUT /api/v1/organizations/ORG/quotas`)"
            )
