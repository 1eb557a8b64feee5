"""bench/density.py -- how many idle environments fit, and what each costs the runner.

Starts N idle environments from the cached Debian image (a tiny class: the point is the
per-environment overhead), then reports the runner process's resident memory per environment
and the create → running latency of 10 more environments at that density. Target (issue 3):
N >= 500 with <= 1 MiB of runner memory per environment.

Run as root: ``.venv/bin/python -m bench.density [--count N]``.
"""

import argparse
import concurrent.futures
import statistics
import tempfile
import time
from pathlib import Path

from tests.support.images import CACHE_DIR, _cached_base

from bench.stack import Stack, rss_bytes, stack, summary, write

TINY = {"cpu": 0.01, "memory_mib": 64, "disk_gib": 1, "pids": 64}


def start_one(s: Stack) -> float:
    since = s.version()
    t0 = time.perf_counter()
    env_id = s.create(**{"class": "tiny"})
    s.wait_phase(env_id, "running", since, timeout=300)
    return time.perf_counter() - t0


def fill(s: Stack, count: int, parallel: int) -> list[float]:
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(lambda _: start_one(s), range(count)))


def host_memory_used() -> int:
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total = int(info["MemTotal"].split()[0]) * 1024
    available = int(info["MemAvailable"].split()[0]) * 1024
    return total - available


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    image = _cached_base()
    with (
        tempfile.TemporaryDirectory(prefix="roost-bench-density-") as tmp,
        stack(Path(tmp), images_dir=CACHE_DIR / "images", max_envs=args.count + 20) as s,
    ):
        s.admin.post("/api/v1/classes", json={"name": "tiny", "resources": TINY}).raise_for_status()
        fill(s, 3, 1)  # warm up before the baseline
        rss0, host0 = rss_bytes(s.runner.pid), host_memory_used()
        t0 = time.perf_counter()
        fill_times = fill(s, args.count - 3, args.parallel)
        fill_seconds = time.perf_counter() - t0
        time.sleep(2)
        rss1, host1 = rss_bytes(s.runner.pid), host_memory_used()
        at_n = [start_one(s) for _ in range(10)]
        envs = s.list_all()
        running = sum(1 for e in envs if e["status"]["phase"] == "running")
        per_env = (rss1 - rss0) / (args.count - 3)
        results = {
            "image": image.ref,
            "environments": args.count + 10,
            "running_listed": running,
            "runner_rss_before_mib": round(rss0 / 2**20, 1),
            "runner_rss_after_mib": round(rss1 / 2**20, 1),
            "runner_rss_per_env_kib": round(per_env / 1024, 1),
            "host_memory_per_env_kib": round((host1 - host0) / (args.count - 3) / 1024, 1),
            "fill_seconds": round(fill_seconds, 1),
            "fill_parallel": args.parallel,
            "fill_create_to_running": summary(fill_times),
            "create_to_running_at_n": summary(at_n),
            "targets": {"environments": 500, "runner_rss_per_env_kib": 1024},
        }
        results["meets_targets"] = args.count >= 500 and per_env <= 2**20
        at_n_summary = results["create_to_running_at_n"]
        print(f"environments running: {args.count + 10} (listed running: {running})")
        print(
            f"runner RSS: {rss0 / 2**20:.1f} MiB -> {rss1 / 2**20:.1f} MiB = "
            f"{per_env / 1024:.1f} KiB per environment (target <= 1024)"
        )
        print(f"host memory per environment: {results['host_memory_per_env_kib']} KiB")
        print(f"create -> running at N: {at_n_summary}; fill took {fill_seconds:.1f} s")
        print(f"wrote {write('density', results)}")
        print(f"median fill latency {statistics.median(fill_times) * 1000:.0f} ms")
        # deleting is part of the run: every environment must go away cleanly
        for e in envs:
            s.admin.delete(f"/api/v1/environments/{e['metadata']['id']}")


if __name__ == "__main__":
    main()
