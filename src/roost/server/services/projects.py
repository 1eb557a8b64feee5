"""Projects: a repository plus the defaults its environments start from."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from roost.core.schemas.base import Page
from roost.core.schemas.projects import Project, ProjectCreate, ProjectSettings, ProjectUpdate
from roost.server.services import audit, organizations, pagination
from roost.server.services.context import Context, Principal
from roost.server.store.rows import ProjectRow


def to_schema(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        organization_id=row.organization_id,
        name=row.name,
        repo_url=row.repo_url,
        settings=ProjectSettings(**row.settings),
        created_at=row.created_at,
    )


async def resolve(
    session: AsyncSession, principal: Principal, ref: str, organization_id: str | None = None
) -> ProjectRow:
    row = await session.get(ProjectRow, ref) if ids.is_id(ref) else None
    if row is None and organization_id is not None:
        row = await session.scalar(
            select(ProjectRow).where(
                ProjectRow.organization_id == organization_id, ProjectRow.name == ref
            )
        )
    if row is None or not (principal.is_admin or principal.role_in(row.organization_id)):
        raise NotFound(f"project {ref!r} not found")
    return row


async def create(
    ctx: Context, principal: Principal, body: ProjectCreate, org_ref: str | None
) -> Project:
    now = ctx.clock.now()
    try:
        async with ctx.db.write() as session:
            org = await organizations.default_for(session, principal, org_ref)
            if not principal.has_role(org.id, "admin"):
                raise Forbidden("creating projects needs the admin or owner role")
            row = ProjectRow(
                id=ids.new_id(),
                organization_id=org.id,
                name=body.name,
                repo_url=body.repo_url,
                settings=body.settings.model_dump(mode="json"),
                created_at=now,
            )
            session.add(row)
            await session.flush()
            audit.record(
                session, now, principal, "project.create", "project", row.id, organization_id=org.id
            )
    except IntegrityError as exc:
        raise Conflict(f"project {body.name!r} exists", code="already_exists") from exc
    return to_schema(row)


async def list_projects(
    ctx: Context, principal: Principal, org_ref: str | None, cursor: str | None, limit: int
) -> Page[Project]:
    async with ctx.db.read() as session:
        query = select(ProjectRow)
        if org_ref:
            org = await organizations.resolve(session, principal, org_ref)
            query = query.where(ProjectRow.organization_id == org.id)
        elif not principal.is_admin:
            query = query.where(ProjectRow.organization_id.in_(list(principal.roles)))
        rows, next_cursor = await pagination.page(session, query, ProjectRow.id, cursor, limit)
    return Page[Project](items=[to_schema(r) for r in rows], next_cursor=next_cursor)


async def find(
    session: AsyncSession, principal: Principal, ref: str, org_ref: str | None
) -> ProjectRow:
    """A project by id, or by name -- in ``org_ref``, else in whichever of the caller's
    organizations has one by that name (several: the caller must name the organization)."""
    if org_ref:
        org = await organizations.resolve(session, principal, org_ref)
        return await resolve(session, principal, ref, org.id)
    if ids.is_id(ref):
        return await resolve(session, principal, ref)
    rows = await session.scalars(select(ProjectRow).where(ProjectRow.name == ref))
    mine = [r for r in rows if principal.is_admin or principal.role_in(r.organization_id)]
    if len(mine) > 1:
        raise InvalidInput(
            f"{len(mine)} of your organizations have a project named {ref!r}; name one with --org"
        )
    if not mine:
        raise NotFound(f"project {ref!r} not found; `roost project list` shows them")
    return mine[0]


async def get(ctx: Context, principal: Principal, ref: str, org_ref: str | None) -> Project:
    async with ctx.db.read() as session:
        return to_schema(await find(session, principal, ref, org_ref))


async def update(
    ctx: Context, principal: Principal, ref: str, body: ProjectUpdate, org_ref: str | None = None
) -> Project:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await find(session, principal, ref, org_ref)
        if not principal.has_role(row.organization_id, "admin"):
            raise Forbidden("changing projects needs the admin or owner role")
        if body.repo_url is not None:
            row.repo_url = body.repo_url
        if body.settings is not None:
            row.settings = body.settings.model_dump(mode="json")
        audit.record(
            session,
            now,
            principal,
            "project.update",
            "project",
            row.id,
            organization_id=row.organization_id,
        )
        return to_schema(row)


async def delete(ctx: Context, principal: Principal, ref: str, org_ref: str | None = None) -> None:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await find(session, principal, ref, org_ref)
        if not principal.has_role(row.organization_id, "admin"):
            raise Forbidden("deleting projects needs the admin or owner role")
        await session.delete(row)
        audit.record(
            session,
            now,
            principal,
            "project.delete",
            "project",
            row.id,
            organization_id=row.organization_id,
        )
