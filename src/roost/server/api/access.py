from fastapi import APIRouter

from roost.core.schemas.access import ExecTicket, TicketGrant, TicketPurpose, TicketVerify
from roost.server.api.deps import Auth, Ctx
from roost.server.services import access

router = APIRouter(prefix="/api/v1", tags=["access"])


@router.post("/environments/{env_id}/exec")
async def exec_ticket(
    ctx: Ctx, who: Auth, env_id: str, purpose: TicketPurpose = "exec"
) -> ExecTicket:
    """A one-use ticket and the runner's address, to run a command in the environment (or,
    with ``purpose``, to read its logs or drive its automations)."""
    return await access.exec_ticket(ctx, who, env_id, purpose)


@router.post("/runners/{runner_id}/tickets/verify")
async def verify_ticket(ctx: Ctx, who: Auth, runner_id: str, body: TicketVerify) -> TicketGrant:
    """For runners: check and spend a ticket a user presented."""
    return await access.verify_ticket(ctx, who, runner_id, body)
