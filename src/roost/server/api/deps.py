"""Request dependencies: the service context and the authenticated principal."""

from typing import Annotated

from fastapi import Depends, Request

from roost.server.services import auth
from roost.server.services.context import Context, Principal


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return None


async def get_principal(request: Request, ctx: Annotated[Context, Depends(get_ctx)]) -> Principal:
    return await auth.authenticate(ctx, bearer(request))


Ctx = Annotated[Context, Depends(get_ctx)]
Auth = Annotated[Principal, Depends(get_principal)]
