"""What every service call needs: the database, the clock, settings and the acting principal."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from roost.core.clock import Clock
from roost.server.services.authcache import AuthCache
from roost.server.services.readingstore import ReadingStore
from roost.server.settings import Settings
from roost.server.store.db import Database
from roost.server.watchhub import WatchHub

Role = Literal["owner", "admin", "member"]
ROLE_RANK: Mapping[str, int] = {"member": 1, "admin": 2, "owner": 3}


@dataclass(frozen=True)
class Principal:
    """Who is calling, resolved from a token before any service code runs."""

    kind: Literal["user", "runner", "environment"]
    token_id: str
    user_id: str | None = None
    is_admin: bool = False
    runner_id: str | None = None
    environment_id: str | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    """Organization id → role, for users."""

    @property
    def actor(self) -> str:
        if self.kind == "runner":
            return f"runner:{self.runner_id}"
        return f"user:{self.user_id}"

    def role_in(self, organization_id: str) -> str | None:
        return self.roles.get(organization_id)

    def has_role(self, organization_id: str, minimum: Role) -> bool:
        """Platform admins have every role everywhere."""
        if self.is_admin:
            return True
        role = self.roles.get(organization_id)
        return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


SYSTEM = Principal(kind="user", token_id="", user_id=None, is_admin=True)
"""The plane itself (controllers, bootstrap)."""


@dataclass
class Context:
    db: Database
    clock: Clock
    settings: Settings
    hub: WatchHub
    auth_cache: AuthCache = field(default_factory=AuthCache)
    readings: ReadingStore = field(default_factory=ReadingStore)
