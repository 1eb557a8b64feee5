"""Deleting a user or an organization -- what an admin does when someone leaves or a team
closes. Both refuse while environments depend on them (their work and running processes are
not deleted behind anyone's back: delete those first), and take everything else of theirs
with them in one transaction, audited.

* a **user** (platform admins; not themselves): their tokens (their sessions end at once),
  memberships, SSH keys and personal secrets;
* an **organization** (platform admins and its owners): its memberships, projects, classes and
  secrets. Backups of environments already deleted follow their retention.
"""

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from roost.core.errors import Conflict, Forbidden
from roost.server.services import audit, organizations, users
from roost.server.services.context import Context, Principal
from roost.server.store.rows import (
    EnvironmentClassRow,
    EnvironmentRow,
    MembershipRow,
    OrganizationRow,
    ProjectRow,
    SecretRow,
    SshKeyRow,
    TokenRow,
    UserRow,
)

MAX_NAMED = 5


async def _refuse_if_environments(
    session: AsyncSession, where: ColumnElement[bool], whose: str
) -> None:
    names = list(await session.scalars(select(EnvironmentRow.name).where(where).limit(MAX_NAMED)))
    if names:
        count = await session.scalar(select(func.count()).select_from(EnvironmentRow).where(where))
        raise Conflict(
            f"{whose} still has {count} environment(s) ({', '.join(names)}); delete them first "
            "(`roost env delete NAME`)",
            code="has_environments",
        )


async def delete_user(ctx: Context, principal: Principal, ref: str) -> None:
    if not principal.is_admin:
        raise Forbidden("deleting users is for platform admins")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await users.find_user(session, ref)
        if row.id == principal.user_id:
            raise Conflict("you cannot delete yourself; ask another platform admin")
        await _refuse_if_environments(session, EnvironmentRow.owner_id == row.id, row.name)
        tokens = list(await session.scalars(select(TokenRow.id).where(TokenRow.user_id == row.id)))
        for table, column in ((TokenRow, TokenRow.user_id), (SshKeyRow, SshKeyRow.user_id),
                              (MembershipRow, MembershipRow.user_id)):  # fmt: skip
            await session.execute(delete(table).where(column == row.id))
        await session.execute(
            delete(SecretRow).where(SecretRow.scope == "user", SecretRow.scope_id == row.id)
        )
        await session.execute(delete(UserRow).where(UserRow.id == row.id))
        audit.record(session, now, principal, "user.delete", "user", row.id,
                     details={"name": row.name})  # fmt: skip
    for token_id in tokens:
        ctx.auth_cache.forget(token_id)


async def delete_organization(ctx: Context, principal: Principal, ref: str) -> None:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        org = await organizations.resolve(session, principal, ref)
        if not (principal.is_admin or principal.has_role(org.id, "owner")):
            raise Forbidden("deleting an organization needs its owner role")
        await _refuse_if_environments(session, EnvironmentRow.organization_id == org.id, org.name)
        projects = select(ProjectRow.id).where(ProjectRow.organization_id == org.id)
        await session.execute(
            delete(SecretRow).where(
                or_(SecretRow.organization_id == org.id, SecretRow.scope_id.in_(projects))
            )
        )
        await session.execute(delete(MembershipRow).where(MembershipRow.organization_id == org.id))
        await session.execute(delete(ProjectRow).where(ProjectRow.organization_id == org.id))
        await session.execute(
            delete(EnvironmentClassRow).where(EnvironmentClassRow.organization_id == org.id)
        )
        await session.execute(delete(OrganizationRow).where(OrganizationRow.id == org.id))
        audit.record(session, now, principal, "organization.delete", "organization", org.id,
                     details={"name": org.name})  # fmt: skip
