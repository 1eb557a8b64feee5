from fastapi import APIRouter

from roost.core.schemas.access import ExecTicket, TicketGrant, TicketVerify
from roost.server.api.deps import Auth, Ctx
from roost.server.services import access

router = APIRouter(prefix="/api/v1", tags=["access"])


@router.post("/environments/{env_id}/exec")
async def exec_ticket(ctx: Ctx, who: Auth, env_id: str) -> ExecTicket:
    """A one-use ticket and the runner's address, to run a command in the environment."""
    return await access.exec_ticket(ctx, who, env_id)


@router.post("/runners/{runner_id}/tickets/verify")
async def verify_ticket(ctx: Ctx, who: Auth, runner_id: str, body: TicketVerify) -> TicketGrant:
    """For runners: check and spend a ticket a user presented."""
    return await access.verify_ticket(ctx, who, runner_id, body)
