"""Ports of an environment: admission rules and their audit trail.

Each port in ``spec.ports`` has an admission -- ``owner`` < ``organization`` < ``public`` --
and the organization's policy (``max_port_admission``) caps it. The cap is enforced twice:

* when a spec is written (create or update), a port wider than the cap is refused with a message
  naming the cap, and the refusal is audited (:func:`enforce`);
* on every proxied request, the effective admission is ``min(port, cap)`` (:func:`effective`),
  so tightening the policy closes wider ports at once, without editing every environment.

Opening, closing and changing a port's admission are audited as ``environment.port_*``.
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Forbidden
from roost.core.schemas.environments import EnvironmentSpec, Port
from roost.core.schemas.organizations import Admission, OrgPolicy
from roost.server.services import audit, organizations
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, OrganizationRow

RANK: dict[str, int] = {"owner": 0, "organization": 1, "public": 2}
Visible = Callable[[Principal, EnvironmentRow], bool]


def effective(admission: Admission, cap: Admission) -> Admission:
    return admission if RANK[admission] <= RANK[cap] else cap


def policy_of(org: OrganizationRow) -> OrgPolicy:
    return OrgPolicy(**org.policy)


def too_wide(ports: list[Port], cap: Admission) -> Port | None:
    return next((p for p in ports if RANK[p.admission] > RANK[cap]), None)


async def enforce(
    ctx: Context,
    principal: Principal,
    spec: EnvironmentSpec,
    org_ref: str | None,
    existing: tuple[str, Visible] | None = None,
) -> None:
    """Refuse (403, audited) a spec whose ports are wider than the organization allows.

    ``existing`` is (environment id, visibility rule) for an update. Checked in a read
    transaction before the write: a policy change racing the write cannot open anything,
    because the proxy applies the current cap on every request anyway.
    """
    if not spec.ports:
        return
    env_id = existing[0] if existing else ""
    async with ctx.db.read() as session:
        if existing:
            env = await session.get(EnvironmentRow, env_id)
            if env is not None and existing[1](principal, env):
                org = await session.get(OrganizationRow, env.organization_id)
            else:
                org = None
        else:
            org = await organizations.default_for(session, principal, org_ref)
    if org is None:
        return  # the write itself reports the environment as not found
    cap = policy_of(org).max_port_admission
    wide = too_wide(spec.ports, cap)
    if wide is None:
        return
    reason = (
        f"port {wide.port} asks for {wide.admission} admission, but organization {org.name} "
        f"allows at most {cap}; use --admission {cap}"
    )
    await audit.record_denied(
        ctx, principal, "environment.port_open", "environment", env_id, reason,
        organization_id=org.id,
    )  # fmt: skip
    raise Forbidden(reason, code="port_admission_not_allowed")


def audit_changes(
    session: AsyncSession,
    now: datetime,
    principal: Principal,
    row: EnvironmentRow,
    old: list[Port],
    new: list[Port],
) -> None:
    """Record ``environment.port_open`` / ``port_close`` / ``port_admission`` for each change."""
    before = {p.port: p for p in old}
    after = {p.port: p for p in new}
    changes: list[tuple[str, int, dict[str, object]]] = []
    for number, port in sorted(after.items()):
        if number not in before:
            changes.append(("port_open", number, {"admission": port.admission}))
        elif before[number].admission != port.admission:
            changes.append(("port_admission", number,
                            {"from": before[number].admission, "to": port.admission}))  # fmt: skip
    changes += [("port_close", n, {}) for n in sorted(before) if n not in after]
    for action, number, details in changes:
        audit.record(
            session, now, principal, f"environment.{action}", "environment", row.id,
            organization_id=row.organization_id, details={"port": number, **details},
        )  # fmt: skip
