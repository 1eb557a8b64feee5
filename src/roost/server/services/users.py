"""Users. Platform admins create users; everyone can read themselves."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Conflict, Forbidden, NotFound
from roost.core.schemas.organizations import Membership, User, UserCreate, WhoAmI
from roost.server.services import audit
from roost.server.services.context import Context, Principal
from roost.server.store.rows import MembershipRow, UserRow


def to_schema(row: UserRow) -> User:
    return User(
        id=row.id, name=row.name, email=row.email, is_admin=row.is_admin, created_at=row.created_at,
        dotfiles_url=row.dotfiles_url,
    )  # fmt: skip


async def find_user(session: AsyncSession, ref: str) -> UserRow:
    row = await session.get(UserRow, ref) if ids.is_id(ref) else None
    if row is None:
        row = await session.scalar(select(UserRow).where(UserRow.name == ref))
    if row is None:
        raise NotFound(f"user {ref!r} not found")
    return row


async def create(ctx: Context, principal: Principal, body: UserCreate) -> User:
    if not principal.is_admin:
        raise Forbidden("only platform admins can create users")
    now = ctx.clock.now()
    try:
        async with ctx.db.write() as session:
            row = UserRow(
                id=ids.new_id(),
                name=body.name,
                email=body.email,
                is_admin=body.is_admin,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            audit.record(session, now, principal, "user.create", "user", row.id)
    except IntegrityError as exc:
        raise Conflict(f"a user named {body.name!r} exists", code="already_exists") from exc
    return to_schema(row)


async def list_users(ctx: Context, principal: Principal) -> list[User]:
    if not principal.is_admin:
        raise Forbidden(
            "listing users is for platform admins; see members with `roost org members`"
        )
    async with ctx.db.read() as session:
        return [to_schema(r) for r in await session.scalars(select(UserRow).order_by(UserRow.id))]


async def whoami(ctx: Context, principal: Principal) -> WhoAmI:
    if principal.kind == "runner":
        return WhoAmI(kind="runner", runner_id=principal.runner_id)
    async with ctx.db.read() as session:
        user = await session.get(UserRow, principal.user_id)
        if user is None:
            raise NotFound("your user no longer exists")
        rows = await session.scalars(select(MembershipRow).where(MembershipRow.user_id == user.id))
        memberships = [
            Membership(
                organization_id=m.organization_id,
                user_id=m.user_id,
                user_name=user.name,
                role=m.role,
                created_at=m.created_at,
            )
            for m in rows
        ]
    return WhoAmI(
        kind=principal.kind,
        user=to_schema(user),
        environment_id=principal.environment_id,
        memberships=memberships,
    )
