"""Admission to the runner's HTTP endpoints (logs, automations): a one-use ticket per request.

The user gets the ticket from the plane (``POST /api/v1/environments/{id}/exec?purpose=...``,
owner only) and presents it as ``Authorization: Bearer`` -- or, from a browser, whose WebSockets
cannot set headers, as a WebSocket subprotocol ``roost.ticket.<ticket>`` offered beside
:data:`BROWSER_PROTOCOL` (kept out of the URL, so out of access logs); the runner has the
plane verify and spend it for that purpose before answering. Refusals are plain HTTP errors
with a message.
"""

from collections.abc import Awaitable, Callable

from aiohttp import web

from roost.core.errors import RoostError
from roost.core.schemas.access import TicketGrant

BROWSER_PROTOCOL = "roost.exec"
"""The subprotocol the runner answers a browser with (it must pick one the browser offered)."""
TICKET_PROTOCOL_PREFIX = "roost.ticket."

CORS = {"Access-Control-Allow-Origin": "*"}
"""Ticketed routes are readable cross-origin (the dashboard is served by the plane): the
credential is the one-use ticket in ``Authorization`` -- never a cookie, and no
``Allow-Credentials`` -- so a page can do nothing it did not already hold a ticket for."""


def preflight(methods: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    headers = {
        **CORS,
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Authorization",
        "Access-Control-Max-Age": "600",
    }

    async def answer(_: web.Request) -> web.Response:
        return web.Response(status=204, headers=headers)

    return answer


def with_cors(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Adds :data:`CORS` to answers not yet sent (a streamed one adds it itself)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        response = await handler(request)
        if not response.prepared:
            response.headers.update(CORS)
        return response

    return wrapped


VerifyPurpose = Callable[[str, str, str], Awaitable[TicketGrant]]
"""``(ticket, environment id, purpose)`` -> the grant, or a RoostError."""


def refuse(status: int, message: str, code: str = "refused") -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def admit(
    request: web.Request, verify: VerifyPurpose, purpose: str
) -> TicketGrant | web.Response:
    env_id = request.match_info["env_id"]
    ticket = presented_ticket(request)
    if not ticket:
        return refuse(401, f"a ticket for {purpose} is required (the roost CLI gets one)")
    try:
        return await verify(ticket, env_id, purpose)
    except RoostError as exc:
        return refuse(401 if exc.code in ("unauthenticated", "error") else 403, exc.message)


def presented_ticket(request: web.Request) -> str:
    scheme, _, ticket = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and ticket.strip():
        return ticket.strip()
    for offered in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        if offered.strip().startswith(TICKET_PROTOCOL_PREFIX):
            return offered.strip()[len(TICKET_PROTOCOL_PREFIX) :]
    return ""
