"""One driver in front of several: each environment's calls go to the driver of its runtime.

The reconciler picks a driver per environment itself (``Parts.driver_for``). The access paths --
exec streams, the SSH gateway, session defaults -- are handed a single driver and know nothing
of runtimes; :class:`RoutedDriver` is that driver on a runner with more than one runtime. Which
runtime an environment has is the runner's local state (``runtime_of``, from
``state/<id>.json``); an environment it has no record of goes to the default (``container``).
"""

from collections.abc import Callable, Mapping

from roost.core.schemas.projects import Resources
from roost.runner.runtime.base import (
    ExecProcess,
    ExecRequest,
    Inspection,
    RuntimeDriver,
    RuntimeSpec,
    Stats,
)


class RoutedDriver:
    def __init__(
        self,
        drivers: Mapping[str, RuntimeDriver],
        runtime_of: Callable[[str], str | None],
        default: str = "container",
    ) -> None:
        self.drivers = dict(drivers)
        self.runtime_of = runtime_of
        self.default = default
        self.name = default

    def for_env(self, env_id: str) -> RuntimeDriver:
        runtime = self.runtime_of(env_id) or self.default
        return self.drivers.get(runtime, self.drivers[self.default])

    async def prepare(self, spec: RuntimeSpec) -> None:
        await self.for_env(spec.env_id).prepare(spec)

    async def start(self, spec: RuntimeSpec) -> None:
        await self.for_env(spec.env_id).start(spec)

    async def exec(self, env_id: str, request: ExecRequest) -> ExecProcess:
        return await self.for_env(env_id).exec(env_id, request)

    async def stop(self, env_id: str, grace: float) -> None:
        await self.for_env(env_id).stop(env_id, grace)

    async def delete(self, env_id: str) -> None:
        await self.for_env(env_id).delete(env_id)

    async def inspect(self, env_id: str) -> Inspection:
        return await self.for_env(env_id).inspect(env_id)

    async def update_resources(self, env_id: str, resources: Resources) -> list[str]:
        return await self.for_env(env_id).update_resources(env_id, resources)

    async def stats(self, env_id: str) -> Stats:
        return await self.for_env(env_id).stats(env_id)

    async def list(self) -> list[str]:
        found: set[str] = set()
        for driver in self.drivers.values():
            found.update(await driver.list())
        return sorted(found)
