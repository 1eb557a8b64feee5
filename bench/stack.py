"""A Roost stack for benchmarks: ``roost server`` and ``roost runner`` as separate processes (so
the runner's own memory can be measured), with names of their own, cleaned up afterwards.

Run benchmarks as root from the repository root: ``.venv/bin/python -m bench.<name>``.
"""

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.support.live import free_port, live_server
from tests.support.runner import scrub_host

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass
class Stack:
    url: str
    admin: httpx.Client
    runner: subprocess.Popen[bytes]
    runner_dir: Path
    names: dict[str, str]

    def create(self, **spec: Any) -> str:
        r = self.admin.post("/api/v1/environments", json={"spec": spec})
        r.raise_for_status()
        return str(r.json()["metadata"]["id"])

    def list_all(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 500} | ({"cursor": cursor} if cursor else {})
            page = self.admin.get("/api/v1/environments", params=params).json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def version(self) -> int:
        return int(
            self.admin.get("/api/v1/watch", params={"timeout": 0}).json()["resource_version"]
        )

    def wait_phase(self, env_id: str, phase: str, since: int, timeout: float = 120) -> int:
        """Long-poll until ``env_id`` reaches ``phase``; returns the version to resume from."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.admin.get("/api/v1/watch", params={"since": since, "timeout": 10})
            body = r.json()
            since = body["resource_version"]
            for event in body["events"]:
                obj = event["object"]
                if event["object_id"] != env_id:
                    continue
                if obj is None and phase == "gone":
                    return since
                if obj is not None and obj["status"]["phase"] == "failed":
                    raise RuntimeError(obj["status"]["message"])
                if obj is not None and obj["status"]["phase"] == phase:
                    return since
        raise TimeoutError(f"{env_id} did not reach {phase}")


@contextmanager
def stack(
    work: Path,
    *,
    images_dir: Path | None = None,
    max_envs: int = 500,
    runner_args: tuple[str, ...] = (),
) -> Iterator[Stack]:
    tag = secrets.token_hex(3)
    names = {
        "nft_table": f"rb{tag}",
        "bridge": f"rbb{tag}",
        "subnet": "10.215.0.0/16",
        "cgroup_parent": f"roost-bench-{tag}",
    }
    with live_server(work / "plane") as server:
        admin = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            timeout=60,
        )
        token = admin.post("/api/v1/runners/registration-tokens", json={}).json()["secret"]
        runner_dir = work / "runner"
        argv = [
            sys.executable,
            "-m",
            "roost",
            "runner",
            "--server",
            server.url,
            "--token",
            token,
            "--name",
            "bench",
            "--data-dir",
            str(runner_dir),
            "--ids-dir",
            str(work / "ids"),
            "--access-listen",
            f"127.0.0.1:{free_port()}",
            "--nft-table",
            names["nft_table"],
            "--bridge",
            names["bridge"],
            "--subnet",
            names["subnet"],
            "--cgroup-parent",
            names["cgroup_parent"],
            "--max-environments",
            str(max_envs),
        ]
        if images_dir:
            argv += ["--images-dir", str(images_dir)]
        argv += runner_args
        log = (work / "runner.log").open("wb")
        runner = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_online(admin)
            yield Stack(server.url, admin, runner, runner_dir, names)
        finally:
            runner.terminate()
            runner.wait(30)
            log.close()
            asyncio.run(scrub_host(runner_dir, **names))
            admin.close()


def _wait_online(admin: httpx.Client, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = admin.get("/api/v1/runners").json()["items"]
        if items and items[0]["state"] == "online":
            return
        time.sleep(0.1)
    raise TimeoutError("the runner did not come online")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p99_ms": round(pct(values, 99) * 1000, 1),
        "min_ms": round(min(values) * 1000, 1),
    }


def write(name: str, doc: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {"benchmark": name, "host": os.uname().nodename, "cpus": os.cpu_count(), **doc}
    path.write_text(json.dumps(doc, indent=2))
    return path
