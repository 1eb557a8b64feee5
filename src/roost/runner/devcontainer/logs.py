"""Per-environment logs of lifecycle hooks and automations, kept on the runner.

``<runner-data>/logs/<env-id>/<name>.log``, appended to by each run, with a header line per run.
``roost env logs`` reads them through the runner (a ticket from the plane, like exec): logs can
hold a repository's output, which stays on the runner like its code.
"""

import re
import time
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
MAX_BYTES = 8 << 20
"""A log file is truncated to its newest half when it grows past this."""


class LogStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def directory(self, env_id: str) -> Path:
        return self.root / env_id

    def path(self, env_id: str, name: str) -> Path:
        return self.directory(env_id) / f"{_SAFE.sub('_', name)}.log"

    def open_run(self, env_id: str, name: str, header: str) -> Path:
        path = self.path(env_id, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.exists() and path.stat().st_size > MAX_BYTES:
            data = path.read_bytes()
            path.write_bytes(data[len(data) // 2 :])
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        with path.open("a") as f:
            f.write(f"==> {stamp} UTC {header}\n")
        return path

    def names(self, env_id: str) -> list[str]:
        d = self.directory(env_id)
        if not d.exists():
            return []
        return sorted(p.stem for p in d.glob("*.log"))

    def remove(self, env_id: str) -> None:
        d = self.directory(env_id)
        if d.exists():
            for p in d.glob("*.log"):
                p.unlink(missing_ok=True)
            d.rmdir()
