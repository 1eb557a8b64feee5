"""restic, driven as a subprocess (argv lists, never a shell): one :class:`Repository` each.

Why restic: content-defined chunking and deduplication across every snapshot in a repository
(so one repository per project lets its environments deduplicate against each other),
encryption and authentication of everything it stores, zstd compression (repository format 2),
local directories and S3-compatible storage behind one interface, and a repository layout that
is safe under concurrent writers (lock files; packs and snapshots are written once and never
changed). Roost adds no chunking or deduplication of its own.

Every command runs as ``setpriv --pdeathsig KILL nice -n N ionice -c C restic ...``: below
running environments in CPU and I/O priority -- lowest (niceness 19, I/O class idle) for
periodic backups nobody waits for, one notch above (niceness 10, best-effort 7) for the backup
at stop and the restore at start, which a user waits for --, the configured bandwidth limits,
and death with the runner, so a killed runner leaves no restic behind. The password
travels in the environment (``RESTIC_PASSWORD``, readable only by root), never in argv.

Lock contention: backups take shared locks and run side by side; ``forget``/``prune`` take an
exclusive one. A command refused because of a lock runs ``restic unlock`` (which removes only
stale locks, such as those of a killed process) and tries again with backoff before giving up
with a ``locked`` error, which the caller retries later.
"""

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.runner.backup import fastkey
from roost.runner.backup.errors import BackupError, classify

log = logging.getLogger(__name__)

_SPARSE: dict[str, bool] = {}
"""Per restic binary: does ``restore`` take ``--sparse``?"""
LOCK_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Seconds between attempts when the repository is locked (about 15 s in all)."""


@dataclass(frozen=True)
class ResticOptions:
    cache_dir: Path
    limit_upload_kib: int | None = None
    limit_download_kib: int | None = None
    compression: str = "auto"
    pack_size_mib: int | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    """Credentials for remote repositories (AWS_ACCESS_KEY_ID, ...)."""
    binary: str = "restic"
    throttle: bool = True
    """Run below the environments' CPU and I/O priority (off only to measure the engine)."""
    tmp_dir: Path | None = None
    """Where restic assembles packs (default: next to the cache, not a small /tmp)."""


@dataclass(frozen=True)
class Summary:
    snapshot_id: str
    files: int
    bytes_processed: int
    data_added: int
    duration: float


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


class Repository:
    """One restic repository (``url``: a directory or ``s3:...``) opened with ``password``."""

    def __init__(self, url: str, password: str, options: ResticOptions) -> None:
        self.url = url
        self.password = password
        self.options = options

    @property
    def local_path(self) -> Path | None:
        """The directory for a local repository (pack files can be read back directly)."""
        if self.url.startswith("/"):
            return Path(self.url)
        return None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TZ")}
        env.update(self.options.extra_env)
        env.update(RESTIC_REPOSITORY=self.url, RESTIC_PASSWORD=self.password, HOME="/root")
        tmp = self.options.tmp_dir or self.options.cache_dir.parent / "tmp"
        tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        env["TMPDIR"] = str(tmp)
        return env

    def _argv(self, args: Sequence[str], idle: bool) -> list[str]:
        if shutil.which(self.options.binary) is None:
            raise BackupError("not_installed", "restic is not installed")
        o = self.options
        argv = ["setpriv", "--pdeathsig", "KILL"]
        if o.throttle:
            argv += ["nice", "-n", "19" if idle else "10"]
            argv += ["ionice", "-c", "3"] if idle else ["ionice", "-c", "2", "-n", "7"]
        argv += [o.binary, "--cache-dir", str(o.cache_dir), "--compression", o.compression]
        if o.limit_upload_kib:
            argv += ["--limit-upload", str(o.limit_upload_kib)]
        if o.limit_download_kib:
            argv += ["--limit-download", str(o.limit_download_kib)]
        if o.pack_size_mib:
            argv += ["--pack-size", str(o.pack_size_mib)]
        return argv + list(args)

    async def run(
        self, *args: str, cwd: Path | None = None, idle: bool = False, what: str = "restic"
    ) -> Result:
        """Run one command; raise a classified :class:`BackupError` if it fails."""
        for delay in (*LOCK_RETRIES, None):
            result = await self._once(args, cwd, idle)
            if result.code == 0:
                return result
            error = classify(result.stderr, result.code, what)
            if error.kind != "locked" or delay is None:
                raise error
            log.info("%s: repository %s is locked; retrying in %.1f s", what, self.url, delay)
            with contextlib.suppress(BackupError):
                await self._once(("unlock",), None, False)  # removes stale locks only
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _once(self, args: Sequence[str], cwd: Path | None, idle: bool) -> Result:
        proc = await asyncio.create_subprocess_exec(
            *self._argv(args, idle), cwd=cwd, env=self._env(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await proc.communicate()
        finally:
            if proc.returncode is None:  # cancelled: let restic remove its lock, then insist
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        return Result(
            proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
        )

    async def ensure(self) -> None:
        """Create the repository on first use (format 2: compression). Two runners racing to
        create it is fine: the loser finds it made."""
        try:
            await self.run("cat", "config", what="opening the backup repository")
        except BackupError as exc:
            if exc.kind != "unreachable" or "config" not in exc.message:
                raise
        else:
            await self._fast_key()
            return
        if self.local_path is not None:
            self.local_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            await self.run("init", "--repository-version", "2", what="creating the repository")
        except BackupError:
            await self.run("cat", "config", what="opening the backup repository")
        await self._fast_key()

    async def _fast_key(self) -> None:
        """A local repository's key made cheap to open (``fastkey.py``); never fatal."""
        if self.local_path is None:
            return
        try:
            if await asyncio.to_thread(fastkey.cheapen, self.local_path, self.password):
                log.info("%s: repository key re-wrapped for fast opening", self.local_path)
        except (OSError, ValueError, KeyError, fastkey.KeyFileError) as exc:
            log.warning("%s: keeping restic's own key: %s", self.local_path, exc)

    async def backup(
        self, cwd: Path, paths: Sequence[str], *, parent: str | None, tags: Sequence[str],
        idle: bool,
    ) -> Summary:  # fmt: skip
        args = ["backup", "--json", "--quiet", "--host", "roost", "--ignore-inode"]
        for tag in tags:
            args += ["--tag", tag]
        if parent:
            args += ["--parent", parent]
        result = await self.run(*args, "--", *paths, cwd=cwd, idle=idle, what="backup")
        doc = _last_json(result.stdout, "summary")
        return Summary(
            snapshot_id=await self.full_id(str(doc["snapshot_id"])),
            files=int(doc.get("total_files_processed", 0)),
            bytes_processed=int(doc.get("total_bytes_processed", 0)),
            data_added=int(doc.get("data_added", 0)),
            duration=float(doc.get("total_duration", 0.0)),
        )  # fmt: skip

    async def full_id(self, short: str) -> str:
        """restic 0.14 prints short ids; a local repository names snapshot files by full id,
        which saves a restic run (each one derives the key: about half a second)."""
        if self.local_path is not None:
            names = await asyncio.to_thread(os.listdir, self.local_path / "snapshots")
            found = [n for n in names if n.startswith(short)]
        else:
            snap = await self.snapshot(short)
            found = [str(snap["id"])] if snap else []
        if len(found) != 1:
            raise BackupError("missing", f"restic reported snapshot {short}, which is not there")
        return found[0]

    async def raw_stats(self, snapshot: str) -> dict[str, Any]:
        """Walks every tree of the snapshot and looks every blob up in the index."""
        result = await self.run(
            "stats", "--json", "--mode", "raw-data", snapshot, what="verifying the backup"
        )
        return dict(_last_json(result.stdout, None))

    async def snapshot(self, snapshot: str) -> dict[str, Any] | None:
        result = await self.run("snapshots", "--json", snapshot, what="finding the backup")
        found = json.loads(result.stdout or "[]")
        return dict(found[0]) if found else None

    async def restore(self, snapshot: str, target: Path) -> None:
        """Sparse files stay sparse where restic can (``--sparse``, restic 0.15+); restic 0.14
        writes their holes in full, so the restore needs their apparent size
        (:meth:`restore_size`)."""
        sparse = ["--sparse"] if await self.can_restore_sparse() else []
        await self.run("restore", *sparse, snapshot, "--target", str(target), what="restore")

    async def can_restore_sparse(self) -> bool:
        if self.options.binary not in _SPARSE:
            proc = await asyncio.create_subprocess_exec(
                self.options.binary, "restore", "--help", stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            out, _ = await proc.communicate()
            _SPARSE[self.options.binary] = b"--sparse" in out
        return _SPARSE[self.options.binary]

    async def restore_size(self, snapshot: str) -> int:
        """Bytes a restore writes without ``--sparse``: every file at its apparent size."""
        result = await self.run(
            "stats", "--json", "--mode", "restore-size", snapshot, what="sizing the restore"
        )
        return int(_last_json(result.stdout, None).get("total_size", 0))

    async def prune(self) -> None:
        await self.run("prune", what="reclaiming unreferenced data")

    async def unlock(self) -> None:
        """Remove stale locks (of killed processes); never fatal."""
        with contextlib.suppress(BackupError):
            await self._once(("unlock",), None, False)

    async def list_packs(self) -> set[str]:
        if self.local_path is not None:
            return await asyncio.to_thread(_local_packs, self.local_path)
        result = await self.run("list", "packs", what="listing the repository")
        return {line.strip() for line in result.stdout.splitlines() if line.strip()}

    async def forget(self, snapshots: Sequence[str], *, prune: bool = False) -> None:
        args = ["forget", *snapshots] + (["--prune"] if prune else [])
        try:
            await self.run(*args, what="deleting backups")
        except BackupError as exc:
            if exc.kind != "missing":  # already gone: that is what we wanted
                raise


def _last_json(stdout: str, message_type: str | None) -> dict[str, Any]:
    for raw in reversed(stdout.splitlines()):
        line = raw.strip()
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        if message_type is None or doc.get("message_type") == message_type:
            return dict(doc)
    raise BackupError("failed", f"restic printed no {message_type or 'JSON'} result")


def _local_packs(root: Path) -> set[str]:
    data = root / "data"
    return {
        name
        for sub in (os.listdir(data) if data.is_dir() else [])
        for name in os.listdir(data / sub)
        if len(name) == 64
    }
