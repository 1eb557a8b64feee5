"""bench/disk.py -- what a per-environment disk costs: at start, in memory, and in I/O.

* start: ``Disks.ensure`` of a new environment (sparse image, mkfs.ext4, loop device, mount,
  workspace bind) and of an existing one after a host reboot (loop device and mounts only);
  ``Disks.remove``;
* footprint: host disk blocks of a fresh image, and kernel memory per mounted disk (50 disks);
* overhead: the same writes on the host's filesystem and on a disk -- 1 GiB sequential with
  fsync, and 20,000 files of 4 KiB (an ``npm install``-like tree) then reading them back cold;
  three interleaved rounds, medians.

Run as root: ``.venv/bin/python -m bench.disk``.
"""

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stack import summary, write
from roost.runner.disks import Disks

GIB = 1 << 30


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def meminfo() -> dict[str, int]:
    lines = Path("/proc/meminfo").read_text().splitlines()
    return {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in lines)}


def start_costs(disks: Disks, count: int) -> dict[str, Any]:
    made = [timed(lambda i=i: disks.ensure(f"s{i}", 20)) for i in range(count)]
    blocks = disks.image("s0").stat().st_blocks * 512
    for i in range(count):  # a host reboot: images kept, nothing mounted
        subprocess.run(["umount", "-l", str(disks.workspace(f"s{i}"))], check=True)
        subprocess.run(["umount", "-l", str(disks.mountpoint(f"s{i}"))], check=True)
    remount = [timed(lambda i=i: disks.ensure(f"s{i}", 20)) for i in range(count)]
    removed = [timed(lambda i=i: disks.remove(f"s{i}")) for i in range(count)]
    return {
        "new_disk": summary(made),
        "remount": summary(remount),
        "remove": summary(removed),
        "fresh_image_host_bytes": blocks,
    }


def memory_per_disk(disks: Disks, count: int = 50) -> dict[str, float]:
    """Kernel memory a mounted disk holds (slab, kernel stacks, buffers); MemAvailable moves too
    much with the rest of the host to see a few hundred KiB per disk."""
    keys = ("Slab", "KernelStack", "Buffers", "PageTables")
    time.sleep(1)
    before = meminfo()
    for i in range(count):
        disks.ensure(f"m{i}", 20)
    time.sleep(1)
    after = meminfo()
    for i in range(count):
        disks.remove(f"m{i}")
    per = {k: (after[k] - before[k]) / count / 1024 for k in keys}
    return {"kib_per_mounted_disk": round(sum(per.values()), 1)} | {
        f"{k.lower()}_kib": round(v, 1) for k, v in per.items()
    }


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def io(target: Path) -> dict[str, float]:
    target.mkdir(parents=True, exist_ok=True)
    big = target / "big"
    argv = ["dd", "if=/dev/zero", f"of={big}", "bs=4M", "count=256", "conv=fsync"]
    seq = timed(lambda: subprocess.run(argv, check=True, capture_output=True))
    big.unlink()
    tree = target / "tree"

    def make_files() -> None:
        for d in range(200):
            sub = tree / f"d{d}"
            sub.mkdir(parents=True)
            for f in range(100):
                (sub / f"f{f}.js").write_bytes(b"x" * 4096)
        os.sync()

    small = timed(make_files)
    drop_caches()
    read = timed(lambda: [p.read_bytes() for p in tree.rglob("*.js")])
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    return {
        "seq_write_1gib_fsync_s": round(seq, 2),
        "seq_write_mib_s": round(1024 / seq, 1),
        "small_files_20k_write_s": round(small, 2),
        "small_files_20k_cold_read_s": round(read, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="roost-bench-disk-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        disks = Disks(work / "disks", work / "envs", work / "workspaces")
        results: dict[str, Any] = {"start": start_costs(disks, 20)}
        results["memory"] = memory_per_disk(disks)
        runs: dict[str, list[dict[str, float]]] = {"io_host": [], "io_disk": []}
        disks.ensure("io", 20)
        try:
            for _ in range(3):  # interleaved: the host's disk is shared with other work
                runs["io_host"].append(io(work / "host-fs"))
                runs["io_disk"].append(io(disks.workspace("io")))
        finally:
            disks.remove("io")
        for name, values in runs.items():
            results[name] = {k: statistics.median(v[k] for v in values) for k in values[0]}
        results["io_runs"] = runs
    host, disk = results["io_host"], results["io_disk"]
    results["overhead"] = {
        k: round(disk[k] / host[k], 2) for k in host if k.endswith("_s") and host[k] > 0
    }
    start = results["start"]
    print(f"new disk: {start['new_disk']}; remount: {start['remount']}")
    print(f"remove: {start['remove']}; fresh image: {start['fresh_image_host_bytes']} B")
    print(f"memory: {results['memory']}")
    print(f"I/O host {host}\nI/O disk {disk}\noverhead (disk/host): {results['overhead']}")
    print(f"wrote {write('disk', results)}")


if __name__ == "__main__":
    main()
