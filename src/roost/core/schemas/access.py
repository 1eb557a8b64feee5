"""Getting into an environment: short-lived tickets for the runner's access endpoints.

Users authenticate against the plane; the plane answers with a one-use ticket (an
environment-scoped token, valid for a minute) and the runner's address. The client presents the
ticket to the runner, which asks the plane whether it is good (and so spends it). Code and
secrets then flow between the user and the runner only.
"""

from datetime import datetime

from roost.core.schemas.base import Input, Output


class ExecTicket(Output):
    url: str
    """WebSocket URL of the runner's exec endpoint for this environment."""
    ticket: str
    expires_at: datetime


class TicketVerify(Input):
    ticket: str
    environment_id: str
    purpose: str = "exec"


class TicketGrant(Output):
    user_id: str
    user_name: str
    environment_id: str
