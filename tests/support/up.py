"""``roost up`` as a user runs it: a subprocess on names of its own (nft table, bridge, subnet,
cgroup parent), waited for until its CLI is logged in, stopped and scrubbed afterwards."""

import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.images import CACHE_DIR
from tests.support.live import free_port, wait_http
from tests.support.repos import open_dir
from tests.support.runner import scrub_host


@dataclass
class LocalUp:
    env: dict[str, str]
    """For ``run_cli``: the config file ``roost up`` logged the CLI into."""
    data: Path
    log: Path


@asynccontextmanager
async def roost_up(
    tmp_path: Path, subnet: str, *extra: str, env: dict[str, str] | None = None
) -> AsyncIterator[LocalUp]:
    tag = secrets.token_hex(3)
    data = open_dir("roost-test-up-") / "roost"  # its runner's sandboxed clones reach it
    port = free_port()
    names = {"nft_table": f"ru{tag}", "bridge": f"rub{tag}", "subnet": subnet,
             "cgroup_parent": f"roost-test-{tag}"}  # fmt: skip
    argv = [
        sys.executable, "-m", "roost", "up", "--data-dir", str(data),
        "--listen", f"127.0.0.1:{port}",
        "--images-dir", str(CACHE_DIR / "images"), "--ids-dir", str(tmp_path / "ids"),
        "--nft-table", names["nft_table"], "--bridge", names["bridge"],
        "--subnet", names["subnet"], "--cgroup-parent", names["cgroup_parent"], *extra,
    ]  # fmt: skip
    cli_env = {"ROOST_CONFIG": str(tmp_path / "cli.json"), **(env or {})}
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT,
            env={**cli_env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        deadline = time.monotonic() + 30
        while not (tmp_path / "cli.json").exists():  # `roost up` logs the local CLI in
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield LocalUp(cli_env, data, log)
    finally:
        proc.terminate()
        proc.wait(15)
        await scrub_host(data / "runner", **names)
