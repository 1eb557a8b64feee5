"""Quotas: how much of the runners one organization, and each of its users, may take.

Set by platform admins (``PUT /organizations/{org}/quotas``); members read them. ``None`` is no
limit. What counts: every environment not deleted (``environments``, ``disk_gib``: a stopped
environment keeps its files on its runner) and environments meant to run (``running``,
``cpu``, ``memory_mib``). Resources come from each environment's class. Platform admins are
exempt from the per-user quota (they operate the platform), not from the organization's.
"""

from pydantic import Field

from roost.core.schemas.base import Input

DEFAULT_PER_USER_ENVIRONMENTS = 100
DEFAULT_PER_USER_RUNNING = 50


class Quota(Input):
    environments: int | None = Field(default=None, ge=0, le=100_000)
    running: int | None = Field(default=None, ge=0, le=100_000)
    cpu: float | None = Field(default=None, ge=0, le=1_000_000)
    memory_mib: int | None = Field(default=None, ge=0, le=2**40)
    disk_gib: int | None = Field(default=None, ge=0, le=2**30)


def default_per_user() -> Quota:
    """Without a setting, one member cannot take every runner (the audit made 258)."""
    return Quota(environments=DEFAULT_PER_USER_ENVIRONMENTS, running=DEFAULT_PER_USER_RUNNING)


class Quotas(Input):
    organization: Quota = Field(default_factory=Quota)
    per_user: Quota = Field(default_factory=default_per_user)
