"""An organization's quotas: members read them, platform admins set them."""

from fastapi import APIRouter

from roost.core.schemas.quotas import Quotas
from roost.server.api.deps import Auth, Ctx
from roost.server.services import quotas

router = APIRouter(prefix="/api/v1/organizations", tags=["organizations"])


@router.get("/{org}/quotas")
async def get_quotas(ctx: Ctx, who: Auth, org: str) -> Quotas:
    return await quotas.get(ctx, who, org)


@router.put("/{org}/quotas")
async def set_quotas(ctx: Ctx, who: Auth, org: str, body: Quotas) -> Quotas:
    """Platform admins: the organization's quota and each member's (``null``: no limit)."""
    return await quotas.put(ctx, who, org, body)
