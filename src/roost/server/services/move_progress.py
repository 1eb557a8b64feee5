"""The ``move`` condition of an environment on its way to another runner: pure updates.

Kept apart from :mod:`roost.server.services.moves` so that the status writers (a runner's
report, a release) can update it without importing the move operation itself.
"""

from datetime import datetime

from roost.core.schemas.base import Condition
from roost.core.schemas.environments import EnvironmentStatus

PART = "move"


def moving(status: EnvironmentStatus) -> Condition | None:
    """The move in progress, if any."""
    cond = status.conditions.get(PART)
    return cond if cond is not None and cond.phase == "progressing" else None


def set_step(status: EnvironmentStatus, message: str, now: datetime) -> None:
    """Say which step a move in progress has reached (no-op when nothing is moving)."""
    cond = moving(status)
    if cond is None:
        return
    text = f"moving from {cond.details.get('from') or 'its backup'} to {cond.details['to']}: "
    status.conditions[PART] = Condition(
        phase="progressing", message=text + message, updated_at=now, details=cond.details
    )


def on_report(status: EnvironmentStatus, phase: str, runner_id: str | None, now: datetime) -> None:
    """A report from the environment's runner: running on the move's target ends the move."""
    cond = moving(status)
    if cond is None or phase != "running" or runner_id != cond.details.get("to_id"):
        return
    status.conditions[PART] = Condition(
        phase="ready",
        message=f"moved from {cond.details.get('from') or 'its backup'} to {cond.details['to']}",
        updated_at=now,
        details=cond.details,
    )
