"""Backing one environment up and restoring it: the steps, in the order that keeps work safe.

Back up (files quiet after a stop, or live for a periodic backup)::

    list the repository's packs          -> what this backup adds is what appears after
    restic backup of the unshifted views -> snapshot S (restic writes it last, after its data)
    journal: pending = S                 -> a crash from here on resumes with S
    verify S                             -> structure, and the new packs read back (verify.py)
    record S with the plane              -> only now is S "the latest backup"
    journal: pending = none, snapshot = S

Until the record, the plane's latest backup is the previous one, and nothing forgets it: a
failure anywhere (full target, killed runner, damaged pack) leaves the previous backup as the
one to restore, and the status says what happened.

Restore (a start on a runner without the files)::

    restic restore S into staging, through views mapped to this runner's id range
    move the writable layer, then the workspace, into place (renames on one filesystem)
    journal: local_files

A crash mid-restore leaves only staging, which the next attempt wipes and starts over; a
workspace directory without ``local_files`` in the journal is never taken for the work.
"""

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.core.errors import RoostError
from roost.core.schemas.backups import Backup, BackupAccess, BackupRecord
from roost.core.schemas.environments import Environment
from roost.runner import metrics
from roost.runner.backup import failpoints, views
from roost.runner.backup.errors import BackupError
from roost.runner.backup.journal import Journal, JournalStore
from roost.runner.backup.restic import Repository, Summary
from roost.runner.backup.settings import BackupSettings
from roost.runner.backup.verify import verify
from roost.runner.client import PlaneClient
from roost.runner.idalloc import WORKSPACE_ID_BASE

log = logging.getLogger(__name__)
Report = Callable[..., Awaitable[None]]
"""``await report(condition_phase, message, **details)``: the environment's backup condition."""


def details(backup: Backup) -> dict[str, Any]:
    """What the backup condition shows about a verified backup."""
    return {
        "snapshot": backup.id, "size_bytes": backup.size_bytes,
        "added_bytes": backup.added_bytes, "files": backup.files,
        "duration_seconds": round(backup.duration_seconds, 3), "kind": backup.kind,
        "writable_layer": backup.writable_layer, "location": backup.location,
        "at": backup.created_at.isoformat(),
    }  # fmt: skip


@dataclass(frozen=True)
class EnvFiles:
    """Where an environment's files are on this runner, and what they sit on."""

    workspace: Path
    id_base: int | None
    """The environment's id range here (None: no writable layer to back up)."""
    image_ref: str = ""
    image_digest: str = ""


def mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


class BackupEngine:
    def __init__(
        self, settings: BackupSettings, plane: PlaneClient, envs_root: Path, journals: JournalStore
    ) -> None:
        self.settings = settings
        self.plane = plane
        self.envs_root = envs_root
        self.journals = journals
        self.options = settings.restic_options()
        self._opened: set[str] = set()
        self._restore_need: dict[str, int] = {}

    def repository(self, access: BackupAccess) -> Repository:
        return Repository(self.settings.url(access.repository), access.password, self.options)

    def work(self, env_id: str) -> Path:
        return self.settings.work_dir / "envs" / env_id

    def upper(self, env_id: str) -> Path:
        return self.envs_root / env_id / "upper"

    def engine(self, env_id: str) -> Path:
        """Nested mode's engine storage (``/var/lib/docker``, ``/var/lib/containers``)."""
        return self.envs_root / env_id / "engine"

    async def access(self, env_id: str) -> BackupAccess:
        try:
            return await self.plane.backup_access(env_id)
        except RoostError as exc:
            message = f"asking the plane for backup access: {exc.message}"
            raise BackupError("plane", message) from exc

    # -- backup ---------------------------------------------------------------------------------

    async def back_up(self, env: Environment, files: EnvFiles, kind: str, report: Report) -> Backup:
        """Back up, verify and record; raises :class:`BackupError` (nothing recorded then)."""
        started = time.perf_counter()
        try:
            backup = await self._back_up(env, files, kind, report)
        except BackupError:
            metrics.backup_failures.labels(kind).inc()
            raise
        metrics.backup_seconds.labels(kind).observe(time.perf_counter() - started)
        metrics.backup_bytes.labels(kind).observe(backup.size_bytes)
        return backup

    async def _back_up(
        self, env: Environment, files: EnvFiles, kind: str, report: Report
    ) -> Backup:
        access = await self.access(env.id)
        repo = self.repository(access)
        journal = self.journals.load(env.id)
        previous = access.latest.id if access.latest else None
        if repo.url not in self._opened:
            await repo.ensure()
            await repo.unlock()  # a runner killed mid-backup left its lock: stale now
            self._opened.add(repo.url)
        snapshot, summary = journal.pending, journal.pending_summary
        if snapshot is None or kind != "stop":
            if journal.writing:  # the last backup here was killed mid-write
                await self._reclaim(repo, env.id, report)
            sources = self._sources(env.id, files, access.keep_writable_layer)
            what = " and ".join(sources)
            await report("progressing", f"backing up the {what}", previous=previous)
            journal.writing = True
            self.journals.save(journal)
            try:
                snapshot, summary = await self._write(repo, env.id, sources, previous, kind)
            finally:  # failed or done, not killed: restic removed its own lock
                journal.writing = False
                self.journals.save(journal)
            if kind == "stop":
                journal.pending, journal.pending_summary = snapshot, summary
                self.journals.save(journal)
                failpoints.hit(failpoints.BACKUP_WRITTEN_BEFORE_RECORDED)
        else:
            log.info("%s: resuming with snapshot %s, written before a restart", env.id, snapshot)
        try:
            stats = await verify(repo, snapshot, self._packs_before(env.id))
        except BackupError:
            journal.pending = None  # never record it; the next attempt backs up afresh
            self.journals.save(journal)
            raise
        backup = await self._record(env, access, snapshot, summary, stats, kind, files)
        journal.pending, journal.pending_summary = None, {}
        journal.snapshot, journal.last_backup_at = backup.id, time.time()
        self.journals.save(journal)
        return backup

    async def _reclaim(self, repo: Repository, env_id: str, report: Report) -> None:
        """A backup killed mid-write left packs no snapshot references: ``restic prune``
        reclaims them (it takes the repository's exclusive lock; other backups wait or retry).
        Never fatal: the daily prune would get them too."""
        await report("progressing", "reclaiming the space of a backup that was interrupted")
        try:
            await repo.prune()
        except BackupError as exc:
            log.warning("%s: prune after an interrupted backup: %s", env_id, exc.message)
        journal = self.journals.load(env_id)
        journal.writing = False
        self.journals.save(journal)

    def _sources(
        self, env_id: str, files: EnvFiles, keep_layer: bool
    ) -> dict[str, tuple[Path, int]]:
        sources = {"workspace": (files.workspace, WORKSPACE_ID_BASE)}
        if keep_layer and files.id_base is not None and self.upper(env_id).is_dir():
            sources["upper"] = (self.upper(env_id), files.id_base)
            if self.engine(env_id).is_dir():  # nested mode: images, volumes (with the layer)
                sources["engine"] = (self.engine(env_id), files.id_base)
        return sources

    async def _write(
        self, repo: Repository, env_id: str, sources: dict[str, tuple[Path, int]],
        parent: str | None, kind: str,
    ) -> tuple[str, dict[str, Any]]:  # fmt: skip
        work = self.work(env_id)
        work.mkdir(parents=True, exist_ok=True, mode=0o700)
        packs = await repo.list_packs() if repo.local_path is not None else set()
        await asyncio.to_thread((work / "packs-before").write_text, "\n".join(sorted(packs)))
        tags = [f"env={env_id}", f"kind={kind}", "parts=" + "+".join(sources)]
        with views.unshifted(work / "view", sources) as view:
            summary: Summary = await repo.backup(
                view, list(sources), parent=parent, tags=tags, idle=kind == "periodic"
            )
        return summary.snapshot_id, {
            "files": summary.files, "bytes": summary.bytes_processed,
            "added": summary.data_added, "duration": summary.duration,
            "writable_layer": "upper" in sources,
        }  # fmt: skip

    def _packs_before(self, env_id: str) -> set[str] | None:
        try:
            text = (self.work(env_id) / "packs-before").read_text()
        except OSError:
            return None
        return {line for line in text.splitlines() if line}

    async def _record(
        self, env: Environment, access: BackupAccess, snapshot: str, summary: dict[str, Any],
        stats: dict[str, Any], kind: str, files: EnvFiles,
    ) -> Backup:  # fmt: skip
        record = BackupRecord(
            snapshot=snapshot, repository=access.repository, location=self.settings.location,
            kind="periodic" if kind == "periodic" else "stop",
            size_bytes=int(summary.get("bytes", stats.get("total_size", 0))),
            added_bytes=int(summary.get("added", 0)), files=int(summary.get("files", 0)),
            duration_seconds=float(summary.get("duration", 0.0)),
            writable_layer=bool(summary.get("writable_layer")),
            image_ref=files.image_ref, image_digest=files.image_digest,
        )  # fmt: skip
        try:
            return await self.plane.record_backup(env.id, record)
        except RoostError as exc:
            raise BackupError("plane", f"recording the backup: {exc.message}") from exc

    # -- restore --------------------------------------------------------------------------------

    async def restore(
        self, env: Environment, access: BackupAccess, workspace: Path, id_base: int
    ) -> float:
        """Put the latest verified backup in place of the environment's files; seconds taken."""
        latest = access.latest
        if latest is None:
            raise BackupError("missing", "no backup is recorded for this environment")
        if latest.location != self.settings.location:
            raise BackupError(
                "elsewhere",
                f"the environment's backup is at {latest.location}, which this runner does not "
                f"reach (it uses {self.settings.location}); start it on a runner that shares "
                "that backup location, or use S3-compatible storage for every runner",
            )
        started = time.perf_counter()
        repo = self.repository(access)
        stage = await asyncio.to_thread(self._fresh_stage, env.id, id_base)
        sources = {"workspace": (stage / "workspace", WORKSPACE_ID_BASE)}
        if latest.writable_layer:
            sources["upper"] = (stage / "upper", id_base)
            sources["engine"] = (stage / "engine", id_base)  # empty unless it was backed up
        try:
            with views.unshifted(self.work(env.id) / "restore-view", sources) as view:
                await repo.restore(latest.id, view)
        except BaseException:
            # half a restore is nothing to keep (it held 1.4 GB in the fault trial); the next
            # attempt starts over anyway
            await asyncio.to_thread(shutil.rmtree, stage, ignore_errors=True)
            raise
        failpoints.hit(failpoints.RESTORE_MID)
        await asyncio.to_thread(self._put_in_place, env.id, stage, workspace, latest.writable_layer)
        self.journals.save(Journal(env.id, local_files=True, snapshot=latest.id))
        return time.perf_counter() - started

    async def restore_room(self, env_id: str, access: BackupAccess) -> str | None:
        """Why the latest backup cannot be restored here for want of space, or None. With a
        restic that restores sparse files sparse, space is checked by the restore itself; an
        older one (Debian 12's 0.14) writes every file at its apparent size, so a backup with
        a large sparse file would fail the restore after writing gigabytes, again at each
        retry: checked first (one ``restic stats``, remembered per snapshot)."""
        latest = access.latest
        repo = self.repository(access)
        if latest is None or await repo.can_restore_sparse():
            return None
        need = self._restore_need.get(latest.id)
        if need is None:
            need = self._restore_need[latest.id] = await repo.restore_size(latest.id)
        work = self.work(env_id)
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True, mode=0o700)
        st = await asyncio.to_thread(os.statvfs, work)
        free = st.f_bavail * st.f_frsize
        if need <= free:
            return None
        return (
            f"restoring backup {latest.id[:8]} writes {need / (1 << 30):.1f} GiB here: this "
            f"restic writes sparse files at their full size (restic 0.15 or later keeps them "
            f"sparse), and the runner has {free / (1 << 30):.1f} GiB free. Install a newer "
            "restic on the runner, free space on it, or start the environment on another runner"
        )

    def _fresh_stage(self, env_id: str, id_base: int) -> Path:
        stage = self.work(env_id) / "stage"
        views.clear(self.work(env_id) / "restore-view")
        if stage.exists():
            shutil.rmtree(stage)
        for name, base in (
            ("workspace", WORKSPACE_ID_BASE),
            ("upper", id_base),
            ("engine", id_base),
        ):
            (stage / name).mkdir(parents=True, mode=0o755)
            os.chown(stage / name, base, base)  # mapped in the view: root may write into it
        return stage

    def _put_in_place(self, env_id: str, stage: Path, workspace: Path, with_upper: bool) -> None:
        """The writable layer first, the workspace last; each a rename on one filesystem. The
        environment's directory is laid out as the driver makes it (0755: the environment's
        root must be able to reach its bundle)."""
        (self.envs_root / env_id).mkdir(parents=True, exist_ok=True, mode=0o755)
        if with_upper:
            upper = self.upper(env_id)
            if upper.exists():
                shutil.rmtree(upper)
            os.rename(stage / "upper", upper)
            if any((stage / "engine").iterdir()):
                shutil.rmtree(self.engine(env_id), ignore_errors=True)
                os.rename(stage / "engine", self.engine(env_id))
        if workspace.exists():
            shutil.rmtree(workspace)
        workspace.parent.mkdir(parents=True, exist_ok=True)
        os.rename(stage / "workspace", workspace)
        shutil.rmtree(stage, ignore_errors=True)

    def forget_local(self, env_id: str) -> None:
        """Drop this runner's backup state for the environment (its files are gone)."""
        views.clear(self.work(env_id) / "view")
        views.clear(self.work(env_id) / "restore-view")
        shutil.rmtree(self.work(env_id), ignore_errors=True)
        self.journals.remove(env_id)
