"""Changing an organization's policy, and carrying it to its environments.

Runners never look policies up: what an environment may do travels in its spec, as its class's
resources do. So a policy change is also a spec change of every environment of the
organization that the change concerns -- today the egress allow-list -- made in the same
transaction: each gets a new ``spec_version`` and a watch event, its runner applies the new list
live and acknowledges it with ``observed_spec_version``. (The other policy fields are enforced
by the plane when specs are written and need no re-stamping.)

Refusals (a member who is not an admin) are audited as denied, in their own transaction.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Forbidden
from roost.core.schemas.environments import EnvironmentSpec
from roost.core.schemas.organizations import Organization, OrganizationUpdate, OrgPolicy
from roost.server.services import audit, environments, organizations
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow


async def update_policy(
    ctx: Context, principal: Principal, ref: str, body: OrganizationUpdate
) -> Organization:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await organizations.resolve(session, principal, ref)
        org_id = row.id
        if principal.has_role(org_id, "admin"):
            policy = body.policy
            if not principal.is_admin:  # quotas are the platform admins' (services/quotas.py)
                policy = policy.model_copy(update={"quotas": OrgPolicy(**row.policy).quotas})
            row.policy = policy.model_dump(mode="json")
            restamped = await _restamp(session, row.id, body.policy.egress_allow, now)
            audit.record(
                session, now, principal, "organization.policy", "organization", row.id,
                organization_id=row.id, details={**row.policy, "environments": restamped},
            )  # fmt: skip
            return organizations.to_schema(row)
    await audit.record_denied(
        ctx, principal, "organization.policy", "organization", org_id,
        "changing the policy needs the admin or owner role", organization_id=org_id,
    )  # fmt: skip
    raise Forbidden("changing the policy needs the admin or owner role")


async def _restamp(
    session: AsyncSession, org_id: str, allow: list[str] | None, now: datetime
) -> int:
    """Put ``allow`` into the spec of each environment of the organization that has another
    list; returns how many changed."""
    rows = await session.scalars(
        select(EnvironmentRow)
        .where(EnvironmentRow.organization_id == org_id, EnvironmentRow.desired_phase != "deleted")
        .with_for_update()
    )
    changed = 0
    for env in rows:
        spec = EnvironmentSpec.model_validate(env.spec)
        if spec.egress_allow == allow:
            continue
        environments.replace_spec(env, spec.model_copy(update={"egress_allow": allow}))
        await environments.emit(session, env, now, "MODIFIED")
        changed += 1
    return changed
