"""gVisor's ``runsc``, driven like crun: the same verbs, a few different moves.

:class:`Runsc` is a :class:`~roost.runner.runtime.container.crun.Crun` (the sandbox driver reuses
everything the container driver does with it) with these differences:

* **Global flags** on every call: ``--root`` (its own state directory), ``--platform=ptrace``
  (the only platform that works on this project's machines: KVM is a nested PVM backend, and
  runsc's kvm platform hangs there), ``--network=sandbox`` (gVisor's own network stack, on the
  interfaces of the netns the runner made), ``--oci-seccomp`` (apply the bundle's seccomp
  profile inside the sandbox; runsc ignores it otherwise).
* **Start** is ``runsc create`` and then ``runsc start`` under :mod:`.hidenet`: runsc 20221219
  decides whether it is in the host's network namespace by looking for
  ``/proc/sys/net/core/rmem_default``, which newer kernels (6.18 here) have in every netns, so it
  refuses to start ("cannot run with network enabled in root network namespace"). ``start`` is
  the step that reads the netns; the wrapper hides ``/proc/sys/net`` from it alone. (Hiding it
  from ``create`` too would stop the gofer from mounting its own ``/proc``.)
* **Bundles** are given to runsc by the driver's traversable view of them (``bundle_for``).
* **State** comes from runsc's state file (``<root>/<id>_sandbox:<id>.state``) and ``/proc``,
  like crun's, without starting a process; ``runsc state`` is the fallback.
* **Exec** has no ``--tty`` flag, and takes a console socket only when detached: a terminal
  comes from :mod:`.ptyexec`; the driver makes every exec the launcher (:mod:`.launcher`).
* **Update** does not exist in runsc: the driver writes the cgroup itself.
"""

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roost.runner.runtime.base import RuntimeFailure
from roost.runner.runtime.container.crun import Crun

GLOBAL_FLAGS = ("--platform=ptrace", "--network=sandbox", "--oci-seccomp")
START_TIMEOUT_SECONDS = 60


class Runsc(Crun):
    def __init__(
        self,
        state_root: Path,
        binary: str = "runsc",
        bundle_for: Callable[[Path], Path] = lambda bundle: bundle,
    ) -> None:
        super().__init__(state_root, binary)
        self.bundle_for = bundle_for
        """Where runsc finds a bundle directory (the driver's traversable view of it)."""

    def _argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.root), *GLOBAL_FLAGS, *args]

    async def run_detached(self, name: str, bundle: Path, log: Path) -> None:
        """``create`` (sandbox and gofer processes, in the background) then ``start``."""
        await _logged(self._argv("create", "--bundle", str(self.bundle_for(bundle)), name), log)
        hide = [sys.executable, "-m", "roost.runner.runtime.sandbox.hidenet", "--"]
        await _logged([*hide, *self._argv("start", name)], log)

    async def state(self, name: str) -> dict[str, Any] | None:
        path = self.root / f"{name}_sandbox:{name}.state"
        if not path.exists():
            return None
        fast = await asyncio.to_thread(_state_from_file, path)
        if fast is not None:
            return fast
        return await super().state(name)

    def exec_process_argv(
        self, name: str, process_file: str, *, console_socket: Path | None
    ) -> list[str]:
        """``runsc exec`` of a whole OCI process document. runsc takes a console socket only
        with ``--detach``, so for a terminal :mod:`.ptyexec` makes one and hands it over."""
        argv = self._argv("exec", "--process", process_file, name)
        if console_socket is None:
            return argv
        pty = [sys.executable, "-m", "roost.runner.runtime.sandbox.ptyexec", str(console_socket)]
        return [*pty, "--", *argv]

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name.split("_sandbox:", 1)[0] for p in self.root.glob("*.state"))


async def _logged(argv: list[str], log: Path) -> None:
    """Run one runsc step with its output (and the sandbox's) going to ``log``; its error, if
    any, is the log's tail."""
    with log.open("ab") as out:
        start = out.tell()
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip
        try:
            code = await asyncio.wait_for(proc.wait(), START_TIMEOUT_SECONDS)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeFailure(f"runsc timed out after {START_TIMEOUT_SECONDS}s") from None
    if code != 0:
        with log.open("rb") as f:
            f.seek(start)
            detail = f.read(4000).decode(errors="replace").strip()
        step = argv[argv.index("--oci-seccomp") + 1] if "--oci-seccomp" in argv else "runsc"
        raise RuntimeFailure(f"runsc {step} failed: {detail or f'exit code {code}'}")


def _state_from_file(path: Path) -> dict[str, Any] | None:
    """crun's shape (``status``, ``pid``) from runsc's state file; the sandbox process must be
    alive for "running"."""
    try:
        doc = json.loads(path.read_text())
        status, pid = str(doc["status"]), int(doc["sandbox"]["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if status == "running" and not _alive(pid, path.parent):
        status = "stopped"
    return {"status": status, "pid": pid}


def _alive(pid: int, root: Path) -> bool:
    """The pid still runs *this* sandbox: pids are reused, and runsc records no start time, so
    the process's command line must name the sandbox and this state directory."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
        return False
    return cmdline.startswith(b"runsc-sandbox") and f"--root={root}".encode() in cmdline
