"""Organizations and memberships.

Visibility rule used everywhere: an object of an organization the caller does not belong to is
reported as *not found* (404), never *forbidden*, so ids cannot be probed across tenants.
"""

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from roost.core.schemas.organizations import (
    Membership,
    MembershipCreate,
    Organization,
    OrganizationCreate,
    OrgPolicy,
)
from roost.server.services import audit
from roost.server.services.context import Context, Principal
from roost.server.services.users import find_user
from roost.server.store.rows import MembershipRow, OrganizationRow, UserRow


def to_schema(row: OrganizationRow) -> Organization:
    return Organization(
        id=row.id, name=row.name, policy=OrgPolicy(**row.policy), created_at=row.created_at
    )


async def resolve(session: AsyncSession, principal: Principal, ref: str) -> OrganizationRow:
    """Find an organization by id or name that ``principal`` belongs to (admins: any)."""
    row = await session.get(OrganizationRow, ref) if ids.is_id(ref) else None
    if row is None:
        row = await session.scalar(select(OrganizationRow).where(OrganizationRow.name == ref))
    if row is None or not (principal.is_admin or principal.role_in(row.id)):
        raise NotFound(f"organization {ref!r} not found")
    return row


async def default_for(
    session: AsyncSession, principal: Principal, ref: str | None
) -> OrganizationRow:
    """The named organization, or the caller's only one."""
    if ref:
        return await resolve(session, principal, ref)
    if len(principal.roles) == 1:
        return await resolve(session, principal, next(iter(principal.roles)))
    if not principal.roles:
        raise InvalidInput("you are not a member of any organization; ask an admin to add you")
    raise InvalidInput("you belong to several organizations: name one with --org")


async def create(ctx: Context, principal: Principal, body: OrganizationCreate) -> Organization:
    if not principal.is_admin:
        raise Forbidden("only platform admins can create organizations")
    now = ctx.clock.now()
    try:
        async with ctx.db.write() as session:
            row = OrganizationRow(id=ids.new_id(), name=body.name, policy={}, created_at=now)
            session.add(row)
            await session.flush()
            if principal.user_id:
                session.add(
                    MembershipRow(
                        organization_id=row.id,
                        user_id=principal.user_id,
                        role="owner",
                        created_at=now,
                    )
                )
            ctx.auth_cache.forget()  # roles are part of cached principals
            audit.record(
                session,
                now,
                principal,
                "organization.create",
                "organization",
                row.id,
                organization_id=row.id,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"an organization named {body.name!r} exists", code="already_exists"
        ) from exc
    return to_schema(row)


async def list_orgs(ctx: Context, principal: Principal) -> list[Organization]:
    async with ctx.db.read() as session:
        query = select(OrganizationRow).order_by(OrganizationRow.id)
        if not principal.is_admin:
            query = query.where(OrganizationRow.id.in_(list(principal.roles)))
        return [to_schema(r) for r in await session.scalars(query)]


async def get(ctx: Context, principal: Principal, ref: str) -> Organization:
    async with ctx.db.read() as session:
        return to_schema(await resolve(session, principal, ref))


def _membership(m: MembershipRow, user: UserRow) -> Membership:
    return Membership(
        organization_id=m.organization_id,
        user_id=m.user_id,
        user_name=user.name,
        role=m.role,
        created_at=m.created_at,
    )


async def list_members(ctx: Context, principal: Principal, ref: str) -> list[Membership]:
    async with ctx.db.read() as session:
        org = await resolve(session, principal, ref)
        rows = await session.execute(
            select(MembershipRow, UserRow)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.organization_id == org.id)
            .order_by(UserRow.name)
        )
        return [_membership(m, u) for m, u in rows]


async def add_member(
    ctx: Context, principal: Principal, ref: str, body: MembershipCreate
) -> Membership:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        org = await resolve(session, principal, ref)
        _check_can_grant(principal, org.id, body.role)
        user = await find_user(session, body.user)
        row = await session.get(MembershipRow, (org.id, user.id))
        if row is not None and row.role == "owner" and body.role != "owner":
            await _check_owner_leaves(session, principal, org.id, "demote")
        if row is None:
            row = MembershipRow(
                organization_id=org.id, user_id=user.id, role=body.role, created_at=now
            )
            session.add(row)
        else:
            row.role = body.role
        ctx.auth_cache.forget()  # roles are part of cached principals
        audit.record(
            session,
            now,
            principal,
            "membership.set",
            "user",
            user.id,
            organization_id=org.id,
            details={"role": body.role},
        )
        return _membership(row, user)


async def remove_member(ctx: Context, principal: Principal, ref: str, user_ref: str) -> None:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        org = await resolve(session, principal, ref)
        if not principal.has_role(org.id, "admin"):
            raise Forbidden("removing members needs the admin or owner role")
        user = await find_user(session, user_ref)
        row = await session.get(MembershipRow, (org.id, user.id))
        if row is None:
            raise NotFound(f"{user.name} is not a member of {org.name}")
        if row.role == "owner":
            await _check_owner_leaves(session, principal, org.id, "remove")
        ctx.auth_cache.forget()
        await session.execute(
            delete(MembershipRow).where(
                MembershipRow.organization_id == org.id, MembershipRow.user_id == user.id
            )
        )
        audit.record(
            session, now, principal, "membership.remove", "user", user.id, organization_id=org.id
        )


def _check_can_grant(principal: Principal, org_id: str, role: str) -> None:
    if not principal.has_role(org_id, "admin"):
        raise Forbidden("adding members needs the admin or owner role")
    if role == "owner" and not principal.has_role(org_id, "owner"):
        raise Forbidden("only owners can make owners")


async def _check_owner_leaves(
    session: AsyncSession, principal: Principal, org_id: str, verb: str
) -> None:
    """Owners are changed by owners only, and an organization keeps at least one."""
    if not principal.has_role(org_id, "owner"):
        raise Forbidden(f"only owners can {verb} an owner")
    if await _owner_count(session, org_id) == 1:
        raise Conflict(f"cannot {verb} the last owner; make someone else owner first")


async def _owner_count(session: AsyncSession, org_id: str) -> int:
    count = await session.scalar(
        select(func.count()).where(
            MembershipRow.organization_id == org_id, MembershipRow.role == "owner"
        )
    )
    return int(count or 0)
