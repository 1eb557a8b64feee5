"""The runtime driver interface (DESIGN §4) and the documents it takes and returns.

A driver is stateless across restarts: everything it needs to find an environment again --
after the runner was killed -- is on disk (the bundle directory) or in the kernel (crun state,
mounts, cgroups). Every method is idempotent, so a reconciler that crashed half-way can call it
again.
"""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from roost.core.schemas.projects import Resources

State = Literal["absent", "prepared", "running", "stopped"]


@dataclass(frozen=True)
class RuntimeSpec:
    """Everything needed to run one environment."""

    env_id: str
    layers: tuple[Path, ...]
    """Image layer directories, bottom first."""
    resources: Resources
    id_base: int
    """Host uid/gid that is root inside; the environment owns ``id_base .. id_base+65535``."""
    hostname: str
    workspace: Path
    """Host directory whose files are stored with ids ``WORKSPACE_ID_BASE + n``."""
    workspace_target: str = "/workspace"
    env: Mapping[str, str] = field(default_factory=dict)
    image_env: Sequence[str] = ()
    netns: Path | None = None
    resolv_conf: str = ""
    hosts: str = ""
    working_dir: str = "/"
    stop_grace: float = 10.0
    cap_add: Sequence[str] = ()
    """Capabilities beyond the default set (``SYS_PTRACE``: a devcontainer's allowed capAdd)."""
    tmpfs: Sequence[str] = ()
    """Extra tmpfs mount targets (a devcontainer's ``mounts``)."""
    nested_containers: bool = False
    """Nested-containers mode (``runner/nested/``): engine capabilities in the user namespace."""


@dataclass(frozen=True)
class Inspection:
    state: State
    pid: int | None = None
    message: str = ""


@dataclass(frozen=True)
class Stats:
    memory_bytes: int = 0
    memory_limit_bytes: int = 0
    cpu_usage_ns: int = 0
    pids: int = 0
    oom_kills: int = 0
    pids_limit_hits: int = 0
    """Forks refused because the environment had used up its pids limit."""
    disk_used_bytes: int = 0
    disk_limit_bytes: int = 0
    """Used plus what processes inside may still write (the quota, until it is exceeded)."""


@dataclass(frozen=True)
class ExecRequest:
    argv: Sequence[str]
    tty: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    user: str | None = None
    """``uid:gid`` inside; ``None`` means the environment's session user (its devcontainer's
    ``remoteUser``, see ``runner/sessions.py``), and root for a driver used directly."""
    rows: int = 24
    cols: int = 80


class ExecProcess(Protocol):
    """A running command inside an environment."""

    tty: bool

    async def write_stdin(self, data: bytes) -> None: ...
    async def close_stdin(self) -> None: ...
    async def read(self) -> tuple[int, bytes]:
        """Next chunk as (stream, data): 1 stdout (or the tty), 2 stderr; (0, b"") at the end."""
        ...

    async def resize(self, rows: int, cols: int) -> None: ...
    async def signal(self, signum: int) -> None: ...
    async def wait(self) -> int:
        """Exit status; 128+N when killed by signal N."""
        ...


class RuntimeDriver(Protocol):
    name: str

    async def prepare(self, spec: RuntimeSpec) -> None:
        """Root filesystem ready; nothing runs yet. Needs no network details, so it can run
        while the network is being made."""

    async def start(self, spec: RuntimeSpec) -> None:
        """Running (a no-op when it already runs); prepares first if needed."""

    async def exec(self, env_id: str, request: ExecRequest) -> ExecProcess: ...

    async def stop(self, env_id: str, grace: float) -> None:
        """Processes gone and runtime resources released; files kept."""

    async def delete(self, env_id: str) -> None:
        """Everything the driver made is gone (a no-op when absent)."""

    async def inspect(self, env_id: str) -> Inspection: ...

    async def update_resources(self, env_id: str, resources: Resources) -> list[str]:
        """Apply new limits live; returns the limits that did not change, each as its
        ``Resources`` field name, optionally followed by ``": <why, in words>"``."""
        ...

    async def stats(self, env_id: str) -> Stats: ...

    async def list(self) -> list[str]:
        """Ids of environments this driver has anything for (to re-adopt or clean up)."""
        ...


async def run(argv: Sequence[str], *, input_: bytes | None = None, timeout: float = 60) -> str:
    """Run a helper program; stdout on success, RuntimeFailure with its stderr otherwise."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if input_ is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(input_), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeFailure(f"{argv[0]} timed out after {timeout:g}s") from None
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise RuntimeFailure(f"{' '.join(argv[:3])} failed: {detail}")
    return out.decode(errors="replace")


class RuntimeFailure(Exception):
    """A runtime tool failed; the message carries its own words."""


class WrappedDriver:
    """A driver that forwards every call to ``inner``; subclasses change ``exec`` (session
    defaults, secret variables) and leave the lifecycle alone."""

    def __init__(self, inner: RuntimeDriver) -> None:
        self.inner = inner
        self.name = inner.name

    async def exec(self, env_id: str, request: ExecRequest) -> ExecProcess:
        return await self.inner.exec(env_id, request)

    async def prepare(self, spec: RuntimeSpec) -> None:
        await self.inner.prepare(spec)

    async def start(self, spec: RuntimeSpec) -> None:
        await self.inner.start(spec)

    async def stop(self, env_id: str, grace: float) -> None:
        await self.inner.stop(env_id, grace)

    async def delete(self, env_id: str) -> None:
        await self.inner.delete(env_id)

    async def inspect(self, env_id: str) -> Inspection:
        return await self.inner.inspect(env_id)

    async def update_resources(self, env_id: str, resources: Resources) -> list[str]:
        return await self.inner.update_resources(env_id, resources)

    async def stats(self, env_id: str) -> Stats:
        return await self.inner.stats(env_id)

    async def list(self) -> list[str]:
        return await self.inner.list()
