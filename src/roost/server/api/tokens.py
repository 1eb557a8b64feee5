from fastapi import APIRouter, status

from roost.core.schemas.tokens import Token, TokenCreate, TokenCreated
from roost.server.api.deps import Auth, Ctx
from roost.server.services import tokens

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


@router.get("")
async def list_tokens(ctx: Ctx, who: Auth) -> list[Token]:
    return await tokens.list_own(ctx, who)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_token(ctx: Ctx, who: Auth, body: TokenCreate) -> TokenCreated:
    return await tokens.create(ctx, who, body)


@router.delete("/{token_id}")
async def revoke_token(ctx: Ctx, who: Auth, token_id: str) -> Token:
    return await tokens.revoke(ctx, who, token_id)
