"""Admission to the runner's HTTP endpoints (logs, automations): a one-use ticket per request.

The user gets the ticket from the plane (``POST /api/v1/environments/{id}/exec?purpose=...``,
owner only) and presents it as ``Authorization: Bearer``; the runner has the plane verify and
spend it for that purpose before answering. Refusals are plain HTTP errors with a message.
"""

from collections.abc import Awaitable, Callable

from aiohttp import web

from roost.core.errors import RoostError
from roost.core.schemas.access import TicketGrant

VerifyPurpose = Callable[[str, str, str], Awaitable[TicketGrant]]
"""``(ticket, environment id, purpose)`` -> the grant, or a RoostError."""


def refuse(status: int, message: str, code: str = "refused") -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def admit(
    request: web.Request, verify: VerifyPurpose, purpose: str
) -> TicketGrant | web.Response:
    env_id = request.match_info["env_id"]
    scheme, _, ticket = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not ticket:
        return refuse(401, f"a ticket for {purpose} is required (the roost CLI gets one)")
    try:
        return await verify(ticket.strip(), env_id, purpose)
    except RoostError as exc:
        return refuse(401 if exc.code in ("unauthenticated", "error") else 403, exc.message)
