"""The dashboard's sign-in: one-time links and browser sessions.

A **login link** (``roost login --web``) carries a one-use code, valid for a minute, in the URL's
fragment (never sent to a server, so never in an access log); the dashboard page exchanges it
for a **browser session**: a token kept in an HttpOnly cookie. Requests that change something
must also carry the session's CSRF token in the ``X-CSRF-Token`` header.
"""

from datetime import datetime

from pydantic import Field

from roost.core.schemas.base import Input, Output


class WebLoginLink(Output):
    url: str
    expires_at: datetime


class WebSessionCreate(Input):
    code: str = Field(min_length=1, max_length=200)


class WebSession(Output):
    user_id: str
    user_name: str
    is_admin: bool
    csrf_token: str
    """Send it back as ``X-CSRF-Token`` on every request that is not a GET."""
    expires_at: datetime | None = None
    oidc: bool = False
    """Whether the plane offers OpenID Connect sign-in."""


class WebConfig(Output):
    """What the sign-in page needs before anyone is signed in."""

    oidc: bool
    oidc_name: str = ""


SESSION_COOKIE = "roost_session"
"""The dashboard's cookie. The runner's port proxy strips it too: on a shared host name (``roost
up`` on loopback) browsers send it to the runner's port, and it must never reach an app."""
CSRF_HEADER = "X-CSRF-Token"
