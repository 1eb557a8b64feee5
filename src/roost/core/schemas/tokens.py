"""API tokens.

A token is ``roost_<id>_<secret>``: the id finds the row, the secret is compared (constant time)
against its stored SHA-256. The plain token is shown once, at creation.
"""

from datetime import datetime
from typing import Literal

from pydantic import Field

from roost.core.schemas.base import Input, Output

TokenScope = Literal[
    "user", "runner", "environment", "registration",
    "proxy_login",  # one-use, a minute: turns into a proxy session at a runner
    "proxy",  # a proxy session: opens proxied ports of one environment, not the API
    "web_login",  # one-use, a minute: turns into a dashboard session (roost login --web)
    "web",  # a dashboard session, kept in an HttpOnly cookie; the API with a CSRF header
]  # fmt: skip


MAX_LIFETIME = 10 * 366 * 86400
"""Ten years: longer is "never" (omit the field), and a datetime cannot reach much further."""


class TokenCreate(Input):
    name: str = Field(default="", max_length=100)
    expires_in_seconds: int | None = Field(default=None, ge=60, le=MAX_LIFETIME)
    user: str | None = Field(default=None, max_length=200)
    """Admins may create a token for another user (id or name)."""


class RegistrationTokenCreate(Input):
    name: str = Field(default="", max_length=100)
    expires_in_seconds: int | None = Field(default=86400, ge=60, le=MAX_LIFETIME)


class Token(Output):
    id: str
    name: str
    scope: TokenScope
    user_id: str | None = None
    runner_id: str | None = None
    environment_id: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class TokenCreated(Output):
    token: Token
    secret: str
    """The whole token string; it is not stored and cannot be shown again."""
