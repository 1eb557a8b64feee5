"""Environment classes: named resource sets. Global ones (no organization) are for everyone;
organization admins add their own. An environment's spec copies its class's resources."""

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from roost.core.schemas.projects import (
    EnvironmentClass,
    EnvironmentClassCreate,
    EnvironmentClassUpdate,
    Resources,
)
from roost.server.services import audit, organizations
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentClassRow

DEFAULT_CLASSES = {
    "default": Resources(cpu=2, memory_mib=4096, disk_gib=20, pids=4096),
    "small": Resources(cpu=1, memory_mib=1024, disk_gib=10, pids=1024),
    "large": Resources(cpu=4, memory_mib=8192, disk_gib=50, pids=8192),
    "sandbox": Resources(cpu=2, memory_mib=4096, disk_gib=20, pids=4096, runtime="sandbox"),
}


def to_schema(row: EnvironmentClassRow) -> EnvironmentClass:
    return EnvironmentClass(
        id=row.id,
        organization_id=row.organization_id,
        name=row.name,
        description=row.description,
        resources=Resources(**row.resources),
        created_at=row.created_at,
    )


async def resolve(session: AsyncSession, organization_id: str, name: str) -> EnvironmentClassRow:
    """The organization's class called ``name``, else the global one."""
    rows = list(
        await session.scalars(
            select(EnvironmentClassRow).where(
                EnvironmentClassRow.name == name,
                or_(
                    EnvironmentClassRow.organization_id == organization_id,
                    EnvironmentClassRow.organization_id.is_(None),
                ),
            )
        )
    )
    if not rows:
        raise InvalidInput(f"unknown environment class {name!r}; see `roost class list`")
    rows.sort(key=lambda r: r.organization_id is None)
    return rows[0]


async def create(
    ctx: Context, principal: Principal, body: EnvironmentClassCreate, org_ref: str | None
) -> EnvironmentClass:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        org_id: str | None = None
        if org_ref:
            org_id = (await organizations.resolve(session, principal, org_ref)).id
            if not principal.has_role(org_id, "admin"):
                raise Forbidden("creating classes needs the admin or owner role")
        elif not principal.is_admin:
            raise Forbidden("global classes are for platform admins; name an organization (--org)")
        existing = await session.scalar(
            select(EnvironmentClassRow).where(
                EnvironmentClassRow.name == body.name,
                EnvironmentClassRow.organization_id == org_id
                if org_id
                else EnvironmentClassRow.organization_id.is_(None),
            )
        )
        if existing is not None:
            raise Conflict(f"class {body.name!r} exists", code="already_exists")
        row = EnvironmentClassRow(
            id=ids.new_id(),
            organization_id=org_id,
            name=body.name,
            description=body.description,
            resources=body.resources.model_dump(mode="json"),
            created_at=now,
        )
        session.add(row)
        audit.record(
            session, now, principal, "class.create", "class", row.id, organization_id=org_id
        )
        return to_schema(row)


async def list_classes(
    ctx: Context, principal: Principal, org_ref: str | None
) -> list[EnvironmentClass]:
    async with ctx.db.read() as session:
        query = select(EnvironmentClassRow).order_by(EnvironmentClassRow.name)
        if org_ref:
            org = await organizations.resolve(session, principal, org_ref)
            query = query.where(
                or_(
                    EnvironmentClassRow.organization_id == org.id,
                    EnvironmentClassRow.organization_id.is_(None),
                )
            )
        elif not principal.is_admin:
            query = query.where(
                or_(
                    EnvironmentClassRow.organization_id.in_(list(principal.roles)),
                    EnvironmentClassRow.organization_id.is_(None),
                )
            )
        return [to_schema(r) for r in await session.scalars(query)]


async def _editable(
    session: AsyncSession, principal: Principal, class_id: str, verb: str
) -> EnvironmentClassRow:
    row = await session.get(EnvironmentClassRow, class_id)
    visible = row is not None and (
        principal.is_admin or (row.organization_id and principal.role_in(row.organization_id))
    )
    if row is None or not visible:
        raise NotFound(f"class {class_id} not found")
    allowed = principal.is_admin or (
        row.organization_id is not None and principal.has_role(row.organization_id, "admin")
    )
    if not allowed:
        raise Forbidden(f"{verb} classes needs the admin or owner role")
    return row


async def update(
    ctx: Context, principal: Principal, class_id: str, body: EnvironmentClassUpdate
) -> EnvironmentClass:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await _editable(session, principal, class_id, "changing")
        if body.description is not None:
            row.description = body.description
        if body.resources is not None:
            row.resources = body.resources.model_dump(mode="json")
        audit.record(session, now, principal, "class.update", "class", class_id,
                     organization_id=row.organization_id)  # fmt: skip
        return to_schema(row)


async def delete(ctx: Context, principal: Principal, class_id: str) -> None:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await _editable(session, principal, class_id, "deleting")
        await session.delete(row)
        audit.record(
            session,
            now,
            principal,
            "class.delete",
            "class",
            class_id,
            organization_id=row.organization_id,
        )
