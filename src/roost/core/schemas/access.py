"""Getting into an environment: short-lived tickets for the runner's access endpoints.

Users authenticate against the plane; the plane answers with a one-use ticket (an
environment-scoped token, valid for a minute) and the runner's address. The client presents the
ticket to the runner, which asks the plane whether it is good (and so spends it). Code and
secrets then flow between the user and the runner only.
"""

from datetime import datetime
from typing import Literal

from roost.core.schemas.base import Input, Output

TicketPurpose = Literal["exec", "logs", "automations"]
"""What a ticket opens on the runner: ``/exec/<id>``, ``/logs/<id>`` or ``/automations/<id>``.
A ticket is good for its purpose only."""


class ExecTicket(Output):
    url: str
    """The runner's endpoint for this environment and purpose (a WebSocket URL for exec)."""
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
