"""An in-memory runtime driver for tests of the layers above (reconciler, agent).

It keeps a state per environment and records calls; ``fail_next`` makes the next call of a
method raise, to test error paths. Exec echoes its argv.
"""

import asyncio
from collections.abc import Sequence

from roost.core.schemas.projects import Resources
from roost.runner.runtime.base import (
    ExecProcess,
    ExecRequest,
    Inspection,
    RuntimeFailure,
    RuntimeSpec,
    State,
    Stats,
)


class FakeProcess:
    tty = False

    def __init__(self, argv: Sequence[str]) -> None:
        self.chunks: list[tuple[int, bytes]] = [(1, (" ".join(argv) + "\n").encode())]
        self.code = 0

    async def write_stdin(self, data: bytes) -> None:
        self.chunks.insert(-1 if self.chunks else 0, (1, data))

    async def close_stdin(self) -> None:
        return None

    async def read(self) -> tuple[int, bytes]:
        await asyncio.sleep(0)
        return self.chunks.pop(0) if self.chunks else (0, b"")

    async def resize(self, rows: int, cols: int) -> None:
        return None

    async def signal(self, signum: int) -> None:
        self.code = 128 + signum

    async def wait(self) -> int:
        return self.code


class FakeDriver:
    name = "fake"

    def __init__(self) -> None:
        self.states: dict[str, State] = {}
        self.specs: dict[str, RuntimeSpec] = {}
        self.resources: dict[str, Resources] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_next: dict[str, str] = {}

    def _call(self, method: str, env_id: str) -> None:
        self.calls.append((method, env_id))
        message = self.fail_next.pop(method, None)
        if message is not None:
            raise RuntimeFailure(message)

    async def prepare(self, spec: RuntimeSpec) -> None:
        self._call("prepare", spec.env_id)
        self.specs[spec.env_id] = spec
        self.states.setdefault(spec.env_id, "prepared")

    async def start(self, spec: RuntimeSpec) -> None:
        self._call("start", spec.env_id)
        self.specs[spec.env_id] = spec
        self.resources[spec.env_id] = spec.resources
        self.states[spec.env_id] = "running"

    async def exec(self, env_id: str, request: ExecRequest) -> ExecProcess:
        self._call("exec", env_id)
        if self.states.get(env_id) != "running":
            raise RuntimeFailure(f"environment {env_id} is not running")
        return FakeProcess(request.argv)

    async def stop(self, env_id: str, grace: float) -> None:
        self._call("stop", env_id)
        if env_id in self.states:
            self.states[env_id] = "prepared"

    async def delete(self, env_id: str) -> None:
        self._call("delete", env_id)
        self.states.pop(env_id, None)
        self.specs.pop(env_id, None)

    async def inspect(self, env_id: str) -> Inspection:
        return Inspection(self.states.get(env_id, "absent"))

    async def update_resources(self, env_id: str, resources: Resources) -> list[str]:
        self._call("update_resources", env_id)
        self.resources[env_id] = resources
        return []

    async def stats(self, env_id: str) -> Stats:
        return Stats()

    async def list(self) -> list[str]:
        return sorted(self.states)
