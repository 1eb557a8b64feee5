"""The port proxy: reaching a port inside an environment over HTTP(S) through its runner.

Addresses (``roost.core.access_urls``): ``<port>-<env-id>.<domain>`` (wildcard DNS, one origin
per port) or ``<access-url>/p/<env-id>/<port>/`` (no DNS needed; every port shares the runner's
origin). Admission per port -- owner, organization or public -- is the environment spec's,
capped by the organization's policy; the plane decides every request the runner asks about.

Browser login: ``POST /environments/{id}/ports/{port}/login`` gives a one-use login URL; the
runner exchanges its token with the plane for a proxy session (a token that opens proxied ports
of that environment and nothing else) and keeps it in an HttpOnly cookie scoped to the port.
"""

from datetime import datetime

from pydantic import Field

from roost.core.schemas.base import Input, Output
from roost.core.schemas.organizations import Admission


class ProxyLogin(Output):
    url: str
    """Host form: opens the port after logging in (wildcard DNS or ``*.localhost``)."""
    path_url: str
    """Path form of the same, for setups without wildcard DNS."""
    expires_at: datetime


class ProxySessionCreate(Input):
    login_token: str
    environment_id: str
    port: int = Field(ge=1, le=65535)


class ProxySession(Output):
    token: str
    """Goes into the proxy cookie; valid for the environment's proxied ports only."""
    user_name: str
    expires_at: datetime


class ProxyAuthorize(Input):
    environment_id: str
    port: int = Field(ge=1, le=65535)
    credential: str | None = None
    """A user token (``Authorization: Bearer``) or a proxy session (the cookie), if any."""
    client_address: str = ""


class ProxyDecision(Output):
    allowed: bool
    status: int = 200
    """For a refusal: the HTTP status the runner answers with."""
    code: str = ""
    message: str = ""
    admission: Admission | None = None
    """The effective admission (the port's, capped by the organization's policy)."""
    user_name: str | None = None
    cache_seconds: float = 0
    """How long the runner may reuse an allowing answer (refusals are never reused)."""
