"""bench/backup.py -- what do backups cost?

A 1 GiB workspace of mixed files -- a generated source tree (many small text files), binaries
(copies of the host's shared libraries and executables), one large partly-compressible file --
backed up with restic exactly as a runner does it (``roost.runner.backup.restic``: format 2,
zstd ``auto``, nice/ionice, verification apart): a full backup, a backup after a 1 MiB change,
and a restore into an empty directory; side by side in the same run with ``tar | zstd`` and
``zstd -d | tar -x`` of the same tree. Page caches are dropped before every timed step and each
step ends with ``sync``, so every figure includes reading from and writing to the disk.

Each figure is the median of ``--reps`` rounds (3), each into a fresh repository; a round runs
the baseline and every variant back to back, so that they see the same load (ratios are taken
per round).

Targets (issue 6): incremental <= 5 % of the full backup's time; restore <= 1.5x the tar baseline.

Run as root: ``.venv/bin/python -m bench.backup [--size-mib 1024] [--keep DIR]``.
"""

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench.stack import write
from roost.runner.backup.restic import Repository, ResticOptions
from roost.runner.backup.verify import verify

MIB = 1 << 20
WORDS = [
    *("def", "class", "return", "import", "self", "value", "result", "config", "error"),
    *("async", "await", "yield", "if", "else", "for", "while", "try", "except", "with"),
    *("as", "from", "lambda", "None", "True", "False"),
]


def source_tree(root: Path, total: int, rng: random.Random) -> int:
    """Many small files that look like code (compressible, deduplicable in parts)."""
    written = n = 0
    while written < total:
        d = root / "src" / f"pkg{n // 200:03d}"
        d.mkdir(parents=True, exist_ok=True)
        lines = [
            " ".join(rng.choices(WORDS, k=rng.randint(3, 12))) for _ in range(rng.randint(20, 400))
        ]
        text = "\n".join(lines) + "\n"
        (d / f"module{n:05d}.py").write_text(text)
        written += len(text)
        n += 1
    return n


def binaries(root: Path, total: int) -> int:
    """Real binaries: the host's libraries and executables (what build outputs look like)."""
    out = root / "build"
    out.mkdir(parents=True)
    written = n = 0
    for base in (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/bin"), Path("/usr/lib")):
        for path in sorted(base.rglob("*")):
            if written >= total:
                return n
            if path.is_file() and not path.is_symlink() and path.stat().st_size > 4096:
                shutil.copyfile(path, out / f"{n:05d}-{path.name}")
                written += path.stat().st_size
                n += 1
    return n


def large_file(path: Path, size: int) -> None:
    """A data file: random blocks mixed with repetitive ones (about half compressible)."""
    block = 1 * MIB
    text = (b"timestamp,level,message,value\n" * 40000)[:block]
    with path.open("wb") as f:
        for i in range(size // block):
            f.write(os.urandom(block) if i % 2 else text)


def make_workspace(root: Path, size: int) -> dict[str, int]:
    rng = random.Random(6)
    files = source_tree(root, size // 5, rng)
    bins = binaries(root, size * 3 // 10)
    large_file(root / "data.bin", size // 2)
    used = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"source_files": files, "binaries": bins, "bytes": used}


def change_1mib(root: Path, tag: str = "") -> None:
    """1 MiB of work: edits to 20 source files and a new 1 MiB-ish build output."""
    for i, path in enumerate(sorted((root / "src").rglob("*.py"))[::997][:20]):
        with path.open("a") as f:
            f.write(f"\n# edit {i}{tag}\n" + "x = 1\n" * 400)
    (root / "build" / f"new-artifact{tag}.so").write_bytes(os.urandom(MIB - 20 * 2400))


def change_inside_large_file(root: Path) -> None:
    with (root / "data.bin").open("r+b") as f:
        f.seek(100 * MIB)
        f.write(os.urandom(MIB))


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def timed_sync(action: Callable[[], Any]) -> float:
    drop_caches()
    t0 = time.perf_counter()
    action()
    subprocess.run(["sync"], check=True)
    return round(time.perf_counter() - t0, 3)


def run_async(coro: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], Any]:
    return lambda: asyncio.run(coro())


def tar_zstd(src: Path, out: Path) -> None:
    tar = subprocess.Popen(["tar", "-C", str(src), "-cf", "-", "."], stdout=subprocess.PIPE)
    subprocess.run(["zstd", "-q", "-f", "-T0", "-3", "-o", str(out)], stdin=tar.stdout, check=True)
    assert tar.stdout is not None
    tar.stdout.close()
    assert tar.wait() == 0


def untar(archive: Path, dst: Path) -> None:
    dst.mkdir()
    unz = subprocess.Popen(["zstd", "-q", "-d", "-c", str(archive)], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", str(dst), "-xf", "-"], stdin=unz.stdout, check=True)
    assert unz.stdout is not None
    unz.stdout.close()
    assert unz.wait() == 0


def same_tree(a: Path, b: Path) -> bool:
    diff = subprocess.run(["diff", "-rq", str(a), str(b)], capture_output=True, check=False)
    return diff.returncode == 0


def aggregate(rounds: list[dict[str, Any]], untar_s: list[float]) -> dict[str, Any]:
    """Medians over rounds; the restore ratio per round (same load), then its median."""
    out: dict[str, Any] = {k: median([r[k] for r in rounds]) for k in rounds[0] if k != "ok"}
    out["restore_identical"] = all(r["ok"] for r in rounds)
    out["incremental_pct_of_full"] = round(
        100 * median([r["incremental_1mib_s"] / r["full_backup_s"] for r in rounds]), 1
    )
    out["incremental_warm_pct_of_full"] = round(
        100 * median([r["incremental_1mib_warm_s"] / r["full_backup_s"] for r in rounds]), 1
    )
    out["restore_vs_tar"] = round(
        median([r["restore_s"] / u for r, u in zip(rounds, untar_s, strict=True)]), 2
    )
    out["meets_targets"] = out["incremental_pct_of_full"] <= 5 and out["restore_vs_tar"] <= 1.5
    out["rounds"] = rounds
    return out


def one_round(
    work: Path, ws: Path, pristine: Path, options: ResticOptions, label: str
) -> dict[str, Any]:
    shutil.rmtree(ws)
    subprocess.run(["cp", "-a", str(pristine), str(ws)], check=True)
    repo = Repository(str(work / f"repo-{label}"), "bench-password", options)
    asyncio.run(repo.ensure())
    snaps: dict[str, Any] = {}

    def backup(key: str, parent: str | None) -> Callable[[], Coroutine[Any, Any, None]]:
        async def go() -> None:
            packs = await repo.list_packs()
            s = await repo.backup(ws.parent, [ws.name], parent=parent, tags=["bench"], idle=False)
            snaps[key], snaps[key + "_packs"] = s, packs

        return go

    def verify_time(key: str) -> float:
        t0 = time.perf_counter()
        asyncio.run(verify(repo, snaps[key].snapshot_id, snaps[key + "_packs"]))
        return round(time.perf_counter() - t0, 3)

    r: dict[str, Any] = {"full_backup_s": timed_sync(run_async(backup("full", None)))}
    r["verify_full_s"] = verify_time("full")
    change_1mib(ws)
    r["incremental_1mib_s"] = timed_sync(run_async(backup("incr", snaps["full"].snapshot_id)))
    r["verify_incremental_s"] = verify_time("incr")
    r["incremental_added_bytes"] = snaps["incr"].data_added
    # The same again with the file system's caches as a running environment leaves them (its
    # metadata was just read): the case of a periodic backup and of most stops.
    change_1mib(ws, tag="again")
    subprocess.run(["sync"], check=True)
    t0 = time.perf_counter()
    run_async(backup("warm", snaps["incr"].snapshot_id))()
    subprocess.run(["sync"], check=True)
    r["incremental_1mib_warm_s"] = round(time.perf_counter() - t0, 3)
    change_inside_large_file(ws)
    r["incremental_1mib_inside_large_file_s"] = timed_sync(
        run_async(backup("large", snaps["warm"].snapshot_id))
    )
    target = work / f"restore-{label}"
    target.mkdir()
    last = snaps["large"].snapshot_id
    r["restore_s"] = timed_sync(run_async(lambda: repo.restore(last, target)))
    r["ok"] = same_tree(ws, target / ws.name)
    shutil.rmtree(target)
    repo_dir = work / f"repo-{label}"
    r["repository_bytes"] = sum(p.stat().st_size for p in repo_dir.rglob("*") if p.is_file())
    shutil.rmtree(repo_dir)
    return r


def median(values: list[Any]) -> Any:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it")
    parser.add_argument(
        "--variants",
        default="auto,auto-raw,auto-pack64-raw,off-raw",
        help="auto: as a runner runs it; -raw: without nice/ionice; off: no compression; "
        "-pack64: 64 MiB packs",
    )
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="roost-bench-backup-", dir="/var/tmp"))
    try:
        results = run(base, args.size_mib * MIB, args.variants.split(","), args.reps)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(f"wrote {write('backup', results)}")


def run(base: Path, size: int, variants: list[str], reps: int) -> dict[str, Any]:
    """Rounds interleave the baseline and every variant, so that all see the same load."""
    ws = base / "ws" / "workspace"
    ws.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    shape = make_workspace(ws, size)
    print(f"workspace: {shape} (made in {time.perf_counter() - t0:.0f} s)")
    pristine = base / "pristine"
    subprocess.run(["cp", "-a", str(ws), str(pristine)], check=True)
    archive = base / "ws.tar.zst"
    tar_s: list[float] = []
    untar_s: list[float] = []
    rounds: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for i in range(reps):
        tar_s.append(timed_sync(lambda: tar_zstd(pristine, archive)))
        untar_s.append(timed_sync(lambda: untar(archive, base / "untar")))
        shutil.rmtree(base / "untar")
        for variant in variants:
            options = ResticOptions(
                cache_dir=base / f"cache-{variant}-{i}", tmp_dir=base / "tmp",
                compression="off" if variant.startswith("off") else "auto",
                pack_size_mib=64 if "pack64" in variant else None,
                throttle="raw" not in variant,
            )  # fmt: skip
            rounds[variant].append(one_round(base, ws, pristine, options, f"{variant}-{i}"))
    baseline = {"tar_zstd_s": median(tar_s), "zstd_untar_s": median(untar_s),
                "archive_bytes": archive.stat().st_size, "tar_rounds": tar_s,
                "untar_rounds": untar_s}  # fmt: skip
    out: dict[str, Any] = {"workspace": shape, "restic": "0.14.0", "reps": reps,
                           "load_average": os.getloadavg(), "baseline": baseline}  # fmt: skip
    for variant in variants:
        out[f"restic_{variant}"] = r = aggregate(rounds[variant], untar_s)
        print_row(variant, r, baseline)
    out["targets"] = {"incremental_pct_of_full": 5, "restore_vs_tar": 1.5}
    return out


def print_row(variant: str, r: dict[str, Any], b: dict[str, Any]) -> None:
    print(f"\nrestic ({variant})            seconds    baseline (tar+zstd)")
    print(f"  full backup           {r['full_backup_s']:>9}    {b['tar_zstd_s']:>9}")
    print(f"    + verify            {r['verify_full_s']:>9}")
    print(f"  after a 1 MiB change  {r['incremental_1mib_s']:>9}    "
          f"({r['incremental_pct_of_full']} % of full; tar redoes everything)")  # fmt: skip
    print(f"    + verify            {r['verify_incremental_s']:>9}")
    print(f"  the same, warm caches {r['incremental_1mib_warm_s']:>9}    "
          f"({r['incremental_warm_pct_of_full']} % of full)")  # fmt: skip
    print(f"  1 MiB inside the large file {r['incremental_1mib_inside_large_file_s']:>6}")
    print(f"  restore               {r['restore_s']:>9}    {b['zstd_untar_s']:>9}"
          f"  ({r['restore_vs_tar']}x)  identical: {r['restore_identical']}")  # fmt: skip
    print(f"  repository {r['repository_bytes'] / MIB:.0f} MiB, tar.zst "
          f"{b['archive_bytes'] / MIB:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
