"""Running buildah as the runner's unprivileged build user.

**Why not buildah's own user namespace option.** buildah 1.28 (Debian 12) with
``--userns-uid-map`` either commits layers whose files are owned by the *shifted* host ids (when
containers/storage uses idmapped mounts, which this kernel offers) or, without idmapped mounts,
copies the whole base image (300 MB for the Debian base, ~3 s) for every build. Both were
measured here. So the whole of buildah runs inside a user namespace of Roost's making instead
(buildah's "rootless" mode): its root is the first id of a 65,536-id range allocated for the
runner's builds, an unprivileged host uid. Its storage (``storage/``) holds files owned by that
range, layers are shared between builds, and pushed layers come out with the ids the build saw
(0 for root), because inside the namespace nothing is shifted.

``RUN`` steps use ``--isolation oci``: crun, inside that user namespace, pivots into the build
container with Docker's default capabilities and seccomp profile, so a step cannot reach
buildah's storage either. Its network is the namespace :mod:`.nsexec` joined -- the
environment's own, with the environment's egress and firewall -- or, with none given, a fresh
one with only loopback.

Layout under ``root`` (owned by the build range's root)::

    storage/ run/      containers/storage (graph root and run root)
    home/ tmp/ cache/  buildah's HOME, TMPDIR, and what stands in for /var/cache/containers
    mnt/<n>/           where a build's repository is mounted (only inside the build's namespace)
    registries.conf    short names resolve to docker.io (images are provided locally anyway)
"""

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from roost.core.errors import PermanentError
from roost.runner.idalloc import WORKSPACE_ID_BASE, IdAllocator
from roost.runner.runtime.container.mounts import shift_map, userns_fd

RANGE = 65536
TAIL_LINES = 15
VIEW = Path("/run/roost-build")
"""Where buildah sees ``root``: the runner's data directory is not searchable by the build user,
so :mod:`.nsexec` binds ``root`` here, in the build's own mount namespace only (every runner on a
host uses the same path, each in its own namespaces)."""
CACHE_VIEW = Path("/var/cache/containers")
"""Where buildah looks for its blob info cache; made on the host if missing (an empty mount
point: what is mounted on it lives only in the build's namespace)."""
REGISTRIES_CONF = 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n'


@dataclass(frozen=True)
class Bind:
    src: Path
    dst: Path
    readonly: bool = True
    workspace_ids: bool = False
    """Idmap workspace-owned files (``WORKSPACE_ID_BASE + n``) to the build's id ``n``."""


@dataclass(frozen=True)
class Result:
    code: int
    output: str
    """All output when not streamed to a log; the last ``TAIL_LINES`` lines otherwise."""
    tail: list[str] = field(default_factory=list)


class Buildah:
    """buildah commands, each in the build user namespace (see the module docstring)."""

    def __init__(self, root: Path, ids: IdAllocator, binary: str = "buildah") -> None:
        self.root = root
        self.binary = shutil.which(binary) or binary
        self._ids = ids
        self._owner = "buildah-" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        self.base = 0
        """Host uid of the build's root (allocated by :meth:`setup`)."""

    def setup(self) -> None:
        """Allocate the id range and make the directories (blocking, idempotent)."""
        self.base = self._ids.allocate(self._owner)
        VIEW.mkdir(parents=True, exist_ok=True, mode=0o755)
        CACHE_VIEW.mkdir(parents=True, exist_ok=True, mode=0o755)  # a mount point must exist
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in ("storage", "run", "home", "tmp", "cache", "mnt"):
            (self.root / name).mkdir(exist_ok=True, mode=0o700)
        (self.root / "registries.conf").write_text(REGISTRIES_CONF)
        for path in (self.root, *self.root.iterdir()):
            os.chown(path, self.base, self.base)
        for leftover in (*(self.root / "tmp").iterdir(), *(self.root / "mnt").iterdir()):
            # A crashed build's scratch. Its mounts lived in its own namespace: none are left.
            shutil.rmtree(leftover, ignore_errors=True)

    def give(self, path: Path) -> None:
        """Make ``path`` (a tree the runner wrote) the build root's own."""
        os.chown(path, self.base, self.base, follow_symlinks=False)
        if path.is_dir() and not path.is_symlink():
            for top, dirs, files in os.walk(path):
                for name in (*dirs, *files):
                    os.chown(os.path.join(top, name), self.base, self.base, follow_symlinks=False)

    def inside(self, path: Path) -> Path:
        """``path`` (under ``root``) as buildah sees it."""
        return VIEW / path.relative_to(self.root)

    def _userns(self, inside: int) -> int:
        """A user namespace mapping ``inside..`` to the build range (the caller closes it)."""
        mapping = shift_map(self.base, RANGE, inside)
        return userns_fd(mapping, mapping)

    def global_args(self) -> list[str]:
        return [self.binary, "--root", str(VIEW / "storage"),
                "--runroot", str(VIEW / "run"), "--storage-driver", "overlay"]  # fmt: skip

    def environment(self) -> dict[str, str]:
        return {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(VIEW / "home"),
            "TMPDIR": str(VIEW / "tmp"),
            "XDG_RUNTIME_DIR": str(VIEW / "run"),
            "_CONTAINERS_USERNS_CONFIGURED": "done",  # rootless mode: we made the namespace
            "CONTAINERS_REGISTRIES_CONF": str(VIEW / "registries.conf"),
            "LANG": "C.UTF-8",
        }

    def _namespaces(self, binds: Sequence[Bind]) -> tuple[int, int | None]:
        """(the build's user namespace, the workspace idmapping if a bind needs it); blocking.
        The caller closes both."""
        build = self._userns(0)
        return build, self._userns(WORKSPACE_ID_BASE) if any(
            b.workspace_ids for b in binds
        ) else None

    def spec(
        self, args: Sequence[str], netns: Path | None, binds: Sequence[Bind], build_fd: int,
        workspace_fd: int | None,
    ) -> dict[str, object]:  # fmt: skip
        """What :mod:`.nsexec` does: see there."""
        own = Bind(self.root, VIEW, readonly=False)  # first: the rest go inside
        cache = Bind(self.root / "cache", CACHE_VIEW, readonly=False)
        entries = [
            {"src": str(b.src), "dst": str(b.dst), "readonly": b.readonly,
             "idmap_fd": workspace_fd if b.workspace_ids else None}
            for b in (own, *binds, cache)
        ]  # fmt: skip
        return {
            "netns": str(netns) if netns else None,
            "binds": entries,
            "userns_fd": build_fd,
            "argv": [*self.global_args(), *args],
            "env": self.environment(),
            "cwd": str(VIEW / "tmp"),
        }

    async def run(
        self,
        args: Sequence[str],
        *,
        log: Callable[[str], None] | None = None,
        netns: Path | None = None,
        binds: Sequence[Bind] = (),
        timeout: float = 600,
    ) -> Result:
        """Run ``buildah ARGS``; with ``log``, stream its output there as it comes."""
        build_fd, workspace_fd = await asyncio.to_thread(self._namespaces, binds)
        fds = [fd for fd in (build_fd, workspace_fd) if fd is not None]
        try:
            spec = self.spec(args, netns, binds, build_fd, workspace_fd)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "roost.runner.devcontainer.nsexec", json.dumps(spec),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, pass_fds=fds, start_new_session=True,
            )  # fmt: skip
        finally:
            for fd in fds:
                os.close(fd)
        try:
            lines = await asyncio.wait_for(_collect(proc, log), timeout)
            code = await proc.wait()
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        text = "".join(lines[-TAIL_LINES:] if log else lines)
        return Result(code, text, [x.rstrip("\n") for x in lines[-TAIL_LINES:]])

    async def check(self, args: Sequence[str], what: str, timeout: float = 600) -> str:
        """Run and return the output; a failure is a PermanentError naming ``what``."""
        result = await self.run(args, timeout=timeout)
        if result.code != 0:
            raise PermanentError(f"{what} failed: {result.output.strip()[-800:]}")
        return result.output

    def scratch(self, label: str) -> Path:
        """A fresh directory (owned by the build root) for one build's files."""
        path = self.root / "tmp" / f"{label}.{secrets.token_hex(4)}"
        path.mkdir(mode=0o700)
        os.chown(path, self.base, self.base)
        return path


async def _collect(
    proc: asyncio.subprocess.Process, log: Callable[[str], None] | None
) -> list[str]:
    lines: list[str] = []
    if proc.stdout is None:
        return lines
    async for raw in proc.stdout:
        line = raw.decode(errors="replace")
        lines.append(line)
        if log is not None:
            log(line)
            if len(lines) > TAIL_LINES * 4:
                del lines[:-TAIL_LINES]
    return lines
