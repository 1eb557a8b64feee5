"""Status reports to the plane, sent only when something changed.

A report goes out when the phase, the message or a condition differs from what the plane's
copy of the status already says, or when the runner has acted on a newer ``spec_version``.
Comparing with the plane's copy (not with what this process sent last) is what makes it
level-triggered: after a runner restart, or after the plane marked the environment ``unknown``
while the runner was away, the next pass reports again. Unchanged reports are skipped: each
report is a write and a watch event on the plane.
"""

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from roost.core.errors import RoostError
from roost.core.schemas.base import Condition
from roost.core.schemas.environments import Endpoints, Environment, StatusReport
from roost.runner.client import PlaneClient
from roost.runner.state import LocalEnv

log = logging.getLogger(__name__)


def _cond(phase: str, message: str, **details: Any) -> Condition:
    return Condition(phase=phase, message=message, updated_at=datetime.now(UTC), details=details)


class Reporter:
    def __init__(self, client: PlaneClient) -> None:
        self.client = client
        self._held: dict[str, dict[str, Condition]] = {}
        """Per environment in a :meth:`holding` pass: ``ready`` conditions not sent yet."""
        self._held_endpoints: dict[str, Endpoints] = {}

    @contextlib.asynccontextmanager
    async def holding(self, env: Environment) -> AsyncIterator[None]:
        """A start pass: steps' ``ready`` conditions ride on the pass's next report (its
        ``running``, a progress or a failure) instead of a write each -- every report is a
        database write and a watch event on the plane, about 10 ms on a small host, and a start
        has half a dozen parts to report. Progress and failures still go out at once."""
        self._held[env.id] = {}
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            left = self._held.pop(env.id, {})
            endpoints = self._held_endpoints.pop(env.id, None)
            if left or endpoints:  # nothing reported after the last step (a pass ended early)
                # after a failure, its own report matters more than these: never mask it
                with contextlib.suppress(*((Exception,) if failed else ())):
                    await self.send(env, env.status.phase, env.status.message, left, endpoints)

    @staticmethod
    def _already_says(
        env: Environment,
        phase: str,
        message: str,
        conditions: dict[str, Condition],
        endpoints: Endpoints | None = None,
    ) -> bool:
        st = env.status
        if endpoints is not None and endpoints != st.endpoints:
            return False
        if (st.phase, st.message, st.observed_spec_version) != (
            phase, message, env.spec.spec_version,
        ):  # fmt: skip
            return False
        for part, cond in conditions.items():
            have = st.conditions.get(part)
            if have is None or (have.phase, have.message) != (cond.phase, cond.message):
                return False
        return True

    async def send(
        self,
        env: Environment,
        phase: str,
        message: str,
        conditions: dict[str, Condition],
        endpoints: Endpoints | None = None,
    ) -> None:
        held = self._held.get(env.id)
        if held:
            conditions = {**held, **conditions}
            held.clear()
        held_endpoints = self._held_endpoints.pop(env.id, None)
        endpoints = endpoints if endpoints is not None else held_endpoints
        if self._already_says(env, phase, message, conditions, endpoints):
            return
        report = StatusReport(
            observed_spec_version=env.spec.spec_version,
            phase=phase,
            message=message,
            conditions=conditions,
            endpoints=endpoints,
        )
        try:
            fresh = await self.client.report(env.id, report)
        except RoostError as exc:
            if exc.code in ("not_found", "stale_status"):
                log.info(
                    "report for %s refused (%s); the next watch event decides", env.id, exc.code
                )
                return
            raise
        env.status = fresh.status  # later reports in this pass compare with what we just wrote

    async def part(
        self, env: Environment, env_phase: str, part: str, phase: str, message: str, **details: Any
    ) -> None:
        """Set one condition, with the environment in ``env_phase`` (the pass's phase).

        ``endpoints=Endpoints(...)`` among the details (the ports step's) replaces the status's
        endpoints instead of becoming a detail."""
        endpoints: Endpoints | None = details.pop("endpoints", None)
        held = self._held.get(env.id)
        if held is not None and phase == "ready":
            held[part] = _cond(phase, message, **details)
            if endpoints is not None:
                self._held_endpoints[env.id] = endpoints
            return
        text = env.status.message if env.status.phase == env_phase else env_phase
        cond = {part: _cond(phase, message, **details)}
        await self.send(env, env_phase, text, cond, endpoints)

    async def progress(self, env: Environment, phase: str, message: str) -> None:
        await self.send(env, phase, message, {"machine": _cond("progressing", message)})

    async def running(self, env: Environment, local: LocalEnv) -> None:
        machine = _cond(
            "ready", f"running ({local.runtime} runtime)", image=local.image_ref,
            digest=local.image_digest,
        )  # fmt: skip
        await self.send(env, "running", "running", {"machine": machine})

    async def stopped(self, env: Environment) -> None:
        await self.send(
            env, "stopped", "stopped; files kept", {"machine": _cond("ready", "stopped")}
        )

    async def deleted(self, env: Environment) -> None:
        await self.send(env, "deleted", "deleted", {"machine": _cond("ready", "deleted")})

    async def failed(self, env: Environment, message: str, *, temporary: bool = False) -> None:
        """Permanent: phase ``failed``. Temporary: still on its way (``creating``), and says why."""
        if temporary:
            text = f"{message} (retrying)"
            await self.send(env, "creating", text, {"machine": _cond("progressing", text)})
            return
        await self.send(env, "failed", message, {"machine": _cond("failed", message)})
