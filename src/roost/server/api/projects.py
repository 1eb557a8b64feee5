from fastapi import APIRouter, Query, status

from roost.core.schemas.base import Page
from roost.core.schemas.projects import Project, ProjectCreate, ProjectUpdate
from roost.server.api.deps import Auth, Ctx
from roost.server.services import projects

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


@router.get("")
async def list_projects(
    ctx: Ctx,
    who: Auth,
    organization: str | None = None,
    cursor: str | None = None,
    limit: int = Query(100),
) -> Page[Project]:
    return await projects.list_projects(ctx, who, organization, cursor, limit)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_project(
    ctx: Ctx, who: Auth, body: ProjectCreate, organization: str | None = None
) -> Project:
    return await projects.create(ctx, who, body, organization)


@router.get("/{project}")
async def get_project(
    ctx: Ctx, who: Auth, project: str, organization: str | None = None
) -> Project:
    return await projects.get(ctx, who, project, organization)


@router.patch("/{project}")
async def update_project(
    ctx: Ctx, who: Auth, project: str, body: ProjectUpdate, organization: str | None = None
) -> Project:
    return await projects.update(ctx, who, project, body, organization)


@router.delete("/{project}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(
    ctx: Ctx, who: Auth, project: str, organization: str | None = None
) -> None:
    await projects.delete(ctx, who, project, organization)
