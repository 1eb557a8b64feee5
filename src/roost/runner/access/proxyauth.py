"""Who may use a proxied port: the plane's answers, kept for seconds, never refusals.

The runner holds no access rules of its own. For a request it has no fresh answer for, it asks
the plane (``POST /runners/{id}/proxy/authorize``) with the environment, the port and the
request's credential, and keeps an *allowing* answer for at most :data:`MAX_AGE` seconds -- the
plane says how long -- keyed by a hash of the credential (the credential itself is not kept).
Refusals are never kept: each one is decided, and audited, by the plane. Closing a port or
tightening a policy therefore takes effect within seconds everywhere; a runner that cannot
reach the plane refuses (503) rather than guessing.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable

from roost.core.errors import RoostError
from roost.core.schemas.proxy import (
    ProxyAuthorize,
    ProxyDecision,
    ProxySession,
    ProxySessionCreate,
)

MAX_AGE = 5.0
MAX_ENTRIES = 10000
Ask = Callable[[ProxyAuthorize], Awaitable[ProxyDecision]]
Exchange = Callable[[ProxySessionCreate], Awaitable[ProxySession]]


class ProxyAuthorizer:
    def __init__(
        self, ask: Ask, exchange: Exchange, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ask = ask
        self.exchange = exchange
        self.clock = clock
        self.cache: dict[tuple[str, int, str], tuple[float, ProxyDecision]] = {}

    async def decide(
        self, env_id: str, port: int, credential: str | None, client: str
    ) -> ProxyDecision:
        digest = hashlib.sha256(credential.encode()).hexdigest() if credential else ""
        key = (env_id, port, digest)
        now = self.clock()
        hit = self.cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            decision = await self.ask(ProxyAuthorize(
                environment_id=env_id, port=port, credential=credential, client_address=client,
            ))  # fmt: skip
        except RoostError as exc:
            return ProxyDecision(
                allowed=False, status=503, code="unavailable",
                message=f"cannot check access right now ({exc.message}); try again",
            )  # fmt: skip
        if decision.allowed and decision.cache_seconds > 0:
            if len(self.cache) >= MAX_ENTRIES:
                self._prune(now)
            self.cache[key] = (now + min(decision.cache_seconds, MAX_AGE), decision)
        else:
            self.cache.pop(key, None)
        return decision

    async def login(self, env_id: str, port: int, token: str) -> ProxySession:
        """Exchange a login link's one-use token for a proxy session (raises RoostError)."""
        return await self.exchange(
            ProxySessionCreate(login_token=token, environment_id=env_id, port=port)
        )

    def forget(self, env_id: str) -> None:
        """Drop every kept answer for an environment (its ports or its phase changed)."""
        for key in [k for k in self.cache if k[0] == env_id]:
            del self.cache[key]

    def _prune(self, now: float) -> None:
        for key in [k for k, (until, _) in self.cache.items() if until <= now]:
            del self.cache[key]
        if len(self.cache) >= MAX_ENTRIES:
            self.cache.clear()
