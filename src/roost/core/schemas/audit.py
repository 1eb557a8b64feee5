"""Audit events: who did what to which object, allowed or denied."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from roost.core.schemas.base import Output

Outcome = Literal["allowed", "denied"]


class AuditEvent(Output):
    id: str
    at: datetime
    organization_id: str | None = None
    actor: str
    """``user:<id>``, ``runner:<id>``, ``system`` or ``anonymous``."""
    action: str
    target_kind: str = ""
    target_id: str = ""
    outcome: Outcome = "allowed"
    details: dict[str, Any] = Field(default_factory=dict)
