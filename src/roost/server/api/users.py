from fastapi import APIRouter, status

from roost.core.schemas.organizations import User, UserCreate, WhoAmI
from roost.server.api.deps import Auth, Ctx
from roost.server.services import removal, users

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/whoami")
async def whoami(ctx: Ctx, who: Auth) -> WhoAmI:
    return await users.whoami(ctx, who)


@router.get("/users")
async def list_users(ctx: Ctx, who: Auth) -> list[User]:
    return await users.list_users(ctx, who)


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(ctx: Ctx, who: Auth, body: UserCreate) -> User:
    return await users.create(ctx, who, body)


@router.delete("/users/{user}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(ctx: Ctx, who: Auth, user: str) -> None:
    await removal.delete_user(ctx, who, user)
