from fastapi import APIRouter, status

from roost.core.schemas.projects import (
    EnvironmentClass,
    EnvironmentClassCreate,
    EnvironmentClassUpdate,
)
from roost.server.api.deps import Auth, Ctx
from roost.server.services import classes

router = APIRouter(prefix="/api/v1/classes", tags=["classes"])


@router.get("")
async def list_classes(
    ctx: Ctx, who: Auth, organization: str | None = None
) -> list[EnvironmentClass]:
    return await classes.list_classes(ctx, who, organization)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_class(
    ctx: Ctx, who: Auth, body: EnvironmentClassCreate, organization: str | None = None
) -> EnvironmentClass:
    return await classes.create(ctx, who, body, organization)


@router.delete("/{class_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_class(ctx: Ctx, who: Auth, class_id: str) -> None:
    await classes.delete(ctx, who, class_id)


@router.patch("/{class_id}")
async def update_class(
    ctx: Ctx, who: Auth, class_id: str, body: EnvironmentClassUpdate
) -> EnvironmentClass:
    return await classes.update(ctx, who, class_id, body)
