from fastapi import APIRouter, status

from roost.core.schemas.organizations import User, UserCreate, WhoAmI
from roost.server.api.deps import Auth, Ctx
from roost.server.services import users

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
