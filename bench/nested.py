"""bench/nested.py -- what do nested containers cost?

* ``docker run -d`` of a tiny image (busybox-static, ``--network none``) inside a nested-mode
  environment vs on the host, side by side in one run: the same loop script times each
  ``docker run -d`` with ``date +%s%N`` (inside: run through ``crun exec`` by the benchmark, so
  no exec path is timed). The host's dockerd is started here, with its own data root, socket,
  no bridge and no iptables, and stopped by its PID afterwards.
* create → running through the API, nested-mode vs plain environments of the same image and
  class resources, alternating. The engine starts in the background (the ``containers``
  condition), so the mode's own cost is the network wiring and the cgroup delegation.

Targets (issue 15): nested ``docker run`` p50 <= 1.5x the host's; nested mode adds <= 50 ms to
create → running. Run as root: ``.venv/bin/python -m bench.nested [--count N]``.
"""

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.engine_image import ENGINE_IMAGE, cached_engine_image
from tests.support.images import CACHE_DIR

from bench.stack import Stack, stack, summary, write

CGROUP_PARENT = f"roost-bench-docker-{os.getpid()}"
TINY = (
    "set -e; rm -rf /tmp/tiny; mkdir -p /tmp/tiny/bin; cp /bin/busybox /tmp/tiny/bin/; "
    "ln -s busybox /tmp/tiny/bin/sleep; ln -s busybox /tmp/tiny/bin/sh; "
    "tar -C /tmp/tiny -c . | docker import - tiny >/dev/null"
)
LOOP = (
    "i=0; while [ $i -lt {n} ]; do s=$(date +%s%N); "
    "docker run -d --network none tiny sleep 600 >/dev/null; e=$(date +%s%N); "
    "echo $((e - s)); i=$((i + 1)); done; docker rm -f $(docker ps -aq) >/dev/null"
)


def parse_ns(out: str, warmup: int) -> list[float]:
    return [int(line) / 1e9 for line in out.split()][warmup:]


def host_docker_runs(work: Path, count: int) -> list[float]:
    d = work / "host-docker"
    d.mkdir()
    sock = d / "docker.sock"
    daemon = subprocess.Popen(
        ["dockerd", "--data-root", str(d / "data"), "--exec-root", str(d / "exec"),
         "-H", f"unix://{sock}", "--pidfile", str(d / "docker.pid"), "--bridge=none",
         "--iptables=false", "--ip-masq=false", "--userland-proxy=false",
         "--cgroup-parent", CGROUP_PARENT],
        stdout=(d / "log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["docker", "version"], env=env, capture_output=True,
                             check=False).returncode != 0:  # fmt: skip
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError(f"the host dockerd did not start: {(d / 'log').read_text()}")
            time.sleep(0.2)
        subprocess.run(["sh", "-c", TINY], env=env, check=True)
        out = subprocess.run(["sh", "-c", LOOP.format(n=count + 3)], env=env, check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        return parse_ns(out, 3)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)  # dockerd and the containerd it started
        daemon.wait(30)
        subprocess.run(["umount", "-R", str(d / "data")], capture_output=True, check=False)
        for leftover in Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}"):
            leftover.rmdir()  # empty once the daemon is gone


def crun_exec(s: Stack, env_id: str, script: str) -> str:
    argv = ["crun", "--root", str(s.runner_dir / "envs" / ".crun"), "exec", env_id,
            "sh", "-c", script]  # fmt: skip
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def nested_docker_runs(s: Stack, count: int) -> list[float]:
    since = s.version()
    env_id = s.create(**{"class": "nested", "image": ENGINE_IMAGE, "nested_containers": True})
    s.wait_phase(env_id, "running", since)
    deadline = time.monotonic() + 60
    while True:  # the engine starts in the background
        doc = s.admin.get(f"/api/v1/environments/{env_id}").json()
        cond = doc["status"]["conditions"].get("containers", {})
        if cond.get("phase") == "ready":
            break
        if cond.get("phase") == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"dockerd did not start inside: {cond}")
        time.sleep(0.2)
    crun_exec(s, env_id, TINY)
    times = parse_ns(crun_exec(s, env_id, LOOP.format(n=count + 3)), 3)
    s.admin.delete(f"/api/v1/environments/{env_id}")
    return times


def create_to_running(s: Stack, count: int) -> tuple[list[float], list[float]]:
    plain, nested = [], []
    for i in range(count + 2):
        for klass, out in (("plain", plain), ("nested", nested)):
            spec = {"class": klass, "image": ENGINE_IMAGE, "nested_containers": klass == "nested"}
            since = s.version()
            t0 = time.perf_counter()
            env_id = s.create(**spec)
            s.wait_phase(env_id, "running", since)
            if i >= 2:
                out.append(time.perf_counter() - t0)
            s.admin.delete(f"/api/v1/environments/{env_id}")
            time.sleep(3)  # let the engine start and the delete settle before the next
    return plain, nested


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--creates", type=int, default=10)
    args = parser.parse_args()
    cached_engine_image()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-nested-"))
    try:
        host = summary(host_docker_runs(work, args.count))
        with stack(work, images_dir=CACHE_DIR / "images") as s:
            resources = {"cpu": 1, "memory_mib": 1024, "disk_gib": 4, "pids": 2048}
            for name, extra in (("plain", {}), ("nested", {"nested_containers": True})):
                s.admin.post("/api/v1/classes", json={
                    "name": name, "resources": {**resources, **extra}},
                ).raise_for_status()  # fmt: skip
            nested = summary(nested_docker_runs(s, args.count))
            plain_c, nested_c = create_to_running(s, args.creates)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    plain_create, nested_create = summary(plain_c), summary(nested_c)
    results = {
        "docker_run_d": {"host": host, "nested": nested,
                         "ratio_p50": round(nested["p50_ms"] / host["p50_ms"], 2),
                         "target_ratio": 1.5},
        "create_to_running": {"plain": plain_create, "nested": nested_create,
                              "added_p50_ms": round(nested_create["p50_ms"]
                                                    - plain_create["p50_ms"], 1),
                              "target_added_ms": 50},
    }  # fmt: skip
    for key, value in results.items():
        print(key, value)
    print(f"wrote {write('nested', results)}")


if __name__ == "__main__":
    main()
