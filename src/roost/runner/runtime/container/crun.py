"""crun, driven through its command line with argv lists.

Every call passes ``--root`` so each runner keeps its own container state directory (two runners
on one host do not see each other's containers). Containers are started in a new session, so a
Ctrl-C at the runner's terminal, or the runner's death, never reaches them: environments outlive
the runner by design and are re-adopted when it comes back.
"""

import asyncio
import json
from pathlib import Path
from typing import Any

from roost.runner.runtime.base import RuntimeFailure, run


class Crun:
    def __init__(self, state_root: Path, binary: str = "crun") -> None:
        self.root = state_root
        self.binary = binary

    def _argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.root), *args]

    async def run_detached(self, name: str, bundle: Path, log: Path) -> None:
        """Start the container and return once it runs.

        The container inherits crun's stdout/stderr, so they go to a log file rather than a
        pipe (a pipe would stay open for the environment's whole life); crun's own error
        message, if any, is the log's tail.
        """
        with log.open("ab") as out:
            start = out.tell()
            proc = await asyncio.create_subprocess_exec(
                *self._argv("run", "--detach", "--bundle", str(bundle), name),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
            try:
                code = await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise RuntimeFailure("crun run timed out after 60s") from None
        if code != 0:
            with log.open("rb") as f:
                f.seek(start)
                detail = f.read(4000).decode(errors="replace").strip()
            raise RuntimeFailure(f"crun run failed: {detail or f'exit code {code}'}")

    async def state(self, name: str) -> dict[str, Any] | None:
        """crun's view (status: created | running | stopped), or None if it knows no such name.

        Read from crun's own state file and ``/proc`` -- the same test ``crun state`` makes (the
        recorded pid still runs and started when recorded) -- without starting a process: a
        runner with hundreds of environments asks this on every pass. ``crun state`` is the
        fallback when the file is not there.
        """
        if not (self.root / name).exists():
            return None
        fast = _state_from_files(self.root / name)
        if fast is not None:
            return fast
        try:
            doc: dict[str, Any] = json.loads(await run(self._argv("state", name), timeout=30))
        except RuntimeFailure as exc:
            if "does not exist" in str(exc) or "No such file" in str(exc):
                return None
            raise
        return doc

    async def kill(self, name: str, signal: str) -> None:
        try:
            await run(self._argv("kill", name, signal), timeout=30)
        except RuntimeFailure as exc:
            if "not running" not in str(exc) and "does not exist" not in str(exc):
                raise

    async def delete(self, name: str) -> None:
        try:
            await run(self._argv("delete", "--force", name), timeout=60)
        except RuntimeFailure as exc:
            if "does not exist" not in str(exc) and "No such file" not in str(exc):
                raise

    def exec_process_argv(
        self, name: str, process_file: str, *, console_socket: Path | None
    ) -> list[str]:
        """``crun exec`` of a whole OCI process document (command, user, cwd, variables)."""
        args = ["exec", "--process", process_file]
        if console_socket is not None:
            args += ["--tty", "--console-socket", str(console_socket)]
        return self._argv(*args, name)

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "status").exists() or p.is_dir())


def _state_from_files(directory: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((directory / "status").read_text())
        pid, started = int(doc["pid"]), int(doc["process-start-time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return {"status": "stopped", "pid": pid}
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 3
    alive = fields[0] not in ("Z", "X") and int(fields[19]) == started
    return {"status": "running" if alive else "stopped", "pid": pid}
