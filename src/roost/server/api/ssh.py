from fastapi import APIRouter

from roost.core.schemas.ssh import SshAuthorize, SshGrant
from roost.server.api.deps import Auth, Ctx
from roost.server.services import ssh_access

router = APIRouter(prefix="/api/v1/runners/{runner_id}/ssh", tags=["ssh"])


@router.post("/authorize")
async def authorize_ssh(ctx: Ctx, who: Auth, runner_id: str, body: SshAuthorize) -> SshGrant:
    """For runners' SSH gateways: may this key enter this environment? Refusals are audited."""
    return await ssh_access.authorize(ctx, who, runner_id, body)
