"""The ``container`` driver: one crun container per environment.

Per environment, under ``<root>/<env-id>/``::

    config.json      the OCI bundle's configuration (bundle.py)
    lower/<n>/       image layer n, idmapped into the environment's id range (mounts.py)
    upper/ work/     the overlay's writable layer (host ids = the environment's range)
    rootfs/          the overlay: lower layers + upper
    etc/             hosts, hostname, resolv.conf, bind-mounted into the environment

With disk quotas on (``disks``), ``<root>/<env-id>/`` is the mount point of the environment's own
filesystem, which also holds its workspace (``runner/disks``): made and mounted before anything
else, kept mounted while the environment is stopped, removed with it. With the CPU control loop
on (``cpu``), the loop owns the CFS quota (``runner/cpu``); without it, the class's CPU is a
fixed quota.

Everything is idempotent and found again from disk and the kernel after a runner restart: a
mount that exists is not mounted twice, a running container is left alone.
"""

import asyncio
import json
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from roost.core.schemas.projects import Resources
from roost.runner.cpu import CpuController
from roost.runner.disks import Disks
from roost.runner.idalloc import WORKSPACE_ID_BASE
from roost.runner.runtime.base import (
    ExecProcess,
    ExecRequest,
    Inspection,
    RuntimeFailure,
    RuntimeSpec,
    Stats,
)
from roost.runner.runtime.container import (
    bundle,
    cgroups,
    delegate,
    mounts,
    seccomp,
    seccomp_bpf,
)
from roost.runner.runtime.container.crun import Crun
from roost.runner.runtime.container.execproc import ConsoleSocket, PipeProcess, TtyProcess


class ContainerDriver:
    name = "container"

    def __init__(
        self,
        root: Path,
        *,
        init_binary: Path,
        cgroup_parent: str = "roost",
        crun: str = "crun",
        cpu: CpuController | None = None,
        disks: Disks | None = None,
    ) -> None:
        self.root = root
        self.cpu = cpu
        self.disks = disks
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.crun = Crun(root / ".crun", crun)
        self.init_binary = init_binary
        self.cgroup_parent = cgroup_parent.strip("/")
        self.swap_accounting = cgroups.detect().swap_accounting
        self.annotations = seccomp_bpf.annotation(seccomp.profile())
        self.nested_annotations = seccomp_bpf.annotation(seccomp.profile(nested=True))
        self.nested_devices = tuple(d for d in bundle.NESTED_DEVICES if os.path.exists(d[0]))
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.nofile = min(hard if hard != resource.RLIM_INFINITY else 1 << 20, 1 << 20)

    def env_dir(self, env_id: str) -> Path:
        return self.root / env_id

    def cgroups_path(self, env_id: str) -> str:
        return f"/{self.cgroup_parent}/{env_id}"

    async def prepare(self, spec: RuntimeSpec) -> None:
        await asyncio.to_thread(self._prepare_sync, spec)

    def _prepare_sync(self, spec: RuntimeSpec) -> None:
        """Directories, the workspace and the root filesystem (the network is not needed yet:
        the reconciler makes it at the same time)."""
        d = self.env_dir(spec.env_id)
        if os.path.ismount(d / "rootfs"):
            return  # prepared already: the overlay is the last thing mounted
        if self.disks is not None:  # first: everything below lives on the environment's disk
            self.disks.ensure(spec.env_id, spec.resources.disk_gib, refit=False)
        for sub in ("lower", "upper", "work", "rootfs", "etc"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chown(d / "upper", spec.id_base, spec.id_base)
        if spec.nested_containers:  # the engine's storage: on the disk, not on the overlay
            for name in bundle.ENGINE_STORAGE:
                (d / "engine" / name).mkdir(parents=True, exist_ok=True)
                os.chown(d / "engine" / name, spec.id_base, spec.id_base)
        self._ensure_workspace(spec.workspace)
        self._mount_rootfs(d, spec)

    def _write_bundle(self, spec: RuntimeSpec) -> None:
        """``/etc`` files and ``config.json``, which carry the network's details."""
        d = self.env_dir(spec.env_id)
        self._write_etc(d / "etc", spec)
        doc = bundle.config(
            spec, etc_dir=d / "etc", init_binary=self._init_for(d),
            cgroups_path=self.cgroups_path(spec.env_id), nofile=self.nofile,
            swap_accounting=self.swap_accounting,
            annotations=self.nested_annotations if spec.nested_containers else self.annotations,
            engine_dir=d / "engine" if spec.nested_containers else None,
            nested_devices=self.nested_devices,
        )  # fmt: skip
        _write_atomic(d / "config.json", json.dumps(doc, indent=1))

    def _init_for(self, d: Path) -> Path:
        """The init to bind-mount. With disks, a copy on the environment's own disk (~0.7 MiB):
        a bind mount shows its source's path within its filesystem in the environment's
        mountinfo, and that path should not be the runner's (see docs/security.md)."""
        if self.disks is None:
            return self.init_binary
        copy = d / self.init_binary.name
        if not copy.exists():
            tmp = copy.with_name(copy.name + ".tmp")
            shutil.copyfile(self.init_binary, tmp)
            os.chmod(tmp, 0o755)  # noqa: S103 - a program the environment runs; not secret
            os.replace(tmp, copy)
        return copy

    @staticmethod
    def _write_etc(etc: Path, spec: RuntimeSpec) -> None:
        files = {
            "hostname": spec.hostname + "\n",
            "hosts": spec.hosts
            or f"127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t{spec.hostname}\n",
            "resolv.conf": spec.resolv_conf,
        }
        for name, content in files.items():
            _write_atomic(etc / name, content)
            os.chown(etc / name, spec.id_base, spec.id_base)

    @staticmethod
    def _ensure_workspace(workspace: Path) -> None:
        if not workspace.exists():
            workspace.mkdir(parents=True, mode=0o700)  # see content.py
            os.chown(workspace, WORKSPACE_ID_BASE, WORKSPACE_ID_BASE)

    def _mount_rootfs(self, d: Path, spec: RuntimeSpec) -> None:
        rootfs = (d / "rootfs").resolve()
        mounted = set(mounts.mountpoints_under(d))
        if rootfs in mounted:
            return
        ns = mounts.userns_fd(mounts.shift_map(spec.id_base), mounts.shift_map(spec.id_base))
        try:
            lowers = []
            for i, layer in enumerate(spec.layers):
                target = (d / "lower" / str(i)).resolve()
                target.mkdir(exist_ok=True)
                if target not in mounted:
                    mounts.idmap_bind(layer, target, ns, readonly=True)
                lowers.append(target)
        finally:
            os.close(ns)
        if not lowers:
            raise RuntimeFailure("the image has no layers")
        mounts.mount_overlay(list(reversed(lowers)), d / "upper", d / "work", rootfs)

    async def start(self, spec: RuntimeSpec) -> None:
        state = await self.crun.state(spec.env_id)
        if state is not None and state.get("status") == "running":
            return
        if state is not None:
            await self.crun.delete(spec.env_id)
        await asyncio.to_thread(self._prepare_and_write, spec)
        d = self.env_dir(spec.env_id)
        await self.crun.run_detached(spec.env_id, d, d / "console.log")
        if spec.nested_containers:
            await asyncio.to_thread(delegate.delegate, self.cgroups_path(spec.env_id), spec.id_base)
        await self._govern_cpu(spec.env_id, spec.resources.cpu)

    async def _govern_cpu(self, env_id: str, cpus: float) -> None:
        """Hand the running environment to the CPU loop, or cap it at its class."""
        if self.cpu is not None:
            await asyncio.to_thread(self.cpu.track, env_id, cpus)
        else:
            await asyncio.to_thread(cgroups.set_cpu_quota, self.cgroups_path(env_id), cpus)

    def _prepare_and_write(self, spec: RuntimeSpec) -> None:
        self._prepare_sync(spec)  # quick when prepare() already ran: every step is a check
        self._write_bundle(spec)

    async def exec(self, env_id: str, request: ExecRequest) -> ExecProcess:
        state = await self.crun.state(env_id)
        if state is None or state.get("status") != "running":
            raise RuntimeFailure(f"environment {env_id} is not running")
        console = ConsoleSocket() if request.tty else None
        # The process document goes to crun in an anonymous memory file, not as --env/--user
        # arguments: command lines are readable by every process on the host (sandboxed clones
        # included), and the environment carries secrets.
        fd = _memfd(json.dumps(await self._exec_process(env_id, request)).encode())
        try:
            argv = self.crun.exec_process_argv(
                env_id, f"/proc/self/fd/{fd}", console_socket=console.path if console else None
            )
            pipe = asyncio.subprocess.PIPE
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=None if console else pipe, stdout=None if console else pipe,
                stderr=None if console else pipe, start_new_session=True, pass_fds=(fd,),
            )  # fmt: skip
        finally:
            os.close(fd)
        if console is None:
            return PipeProcess(proc)
        try:
            master = await console.receive_fd()
        except (OSError, TimeoutError) as exc:
            proc.kill()
            await proc.wait()
            raise RuntimeFailure(f"starting a terminal failed: {exc}") from exc
        finally:
            console.close()
        tty = TtyProcess(proc, master)
        await tty.resize(request.rows, request.cols)
        return tty

    async def _exec_process(self, env_id: str, request: ExecRequest) -> dict[str, Any]:
        """The OCI process of an exec: the environment's own (capabilities, limits, variables
        from its bundle) with the request's command, variables, directory and user on top."""
        doc = json.loads(await asyncio.to_thread((self.env_dir(env_id) / "config.json").read_text))
        process: dict[str, Any] = dict(doc["process"])
        env = dict(item.split("=", 1) for item in process.get("env", []) if "=" in item)
        env.update(request.env)
        uid, _, gid = (request.user or "0:0").partition(":")
        process.update(
            args=list(request.argv), env=[f"{k}={v}" for k, v in env.items()],
            cwd=request.cwd or process.get("cwd") or "/", terminal=request.tty,
            user={"uid": int(uid), "gid": int(gid or uid)},
        )  # fmt: skip
        process.pop("consoleSize", None)
        return process

    async def stop(self, env_id: str, grace: float) -> None:
        state = await self.crun.state(env_id)
        if state is not None:
            if state.get("status") == "running":
                await self.crun.kill(env_id, "TERM")
                if not await self._wait_stopped(env_id, grace + 2):
                    await self.crun.kill(env_id, "KILL")
                    await self._wait_stopped(env_id, 10)
            await self.crun.delete(env_id)
        if self.cpu is not None:
            self.cpu.forget(env_id)
        await asyncio.to_thread(self._unmount, env_id, keep_disk=True)

    async def _wait_stopped(self, env_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = await self.crun.state(env_id)
            if state is None or state.get("status") != "running":
                return True
            await asyncio.sleep(0.05)
        return False

    def _unmount(self, env_id: str, *, keep_disk: bool = False) -> None:
        """Everything mounted under the environment's directory; with ``keep_disk``, not the
        disk itself (a stopped environment's files stay readable, for backups)."""
        d = self.env_dir(env_id)
        if d.exists():
            disk = d.resolve() if keep_disk and self.disks is not None else None
            for point in mounts.mountpoints_under(d):
                if point != disk:
                    mounts.umount(point)

    async def delete(self, env_id: str) -> None:
        await self.stop(env_id, grace=0)
        d = self.env_dir(env_id)
        if d.exists():
            await asyncio.to_thread(self._unmount, env_id)
            if self.disks is not None:
                await asyncio.to_thread(self.disks.remove, env_id)
            await asyncio.to_thread(shutil.rmtree, d)
        elif self.disks is not None:
            await asyncio.to_thread(self.disks.remove, env_id)  # an image without a mount

    async def inspect(self, env_id: str) -> Inspection:
        state = await self.crun.state(env_id)
        if state is None:
            return Inspection("prepared" if self.env_dir(env_id).exists() else "absent")
        status = state.get("status")
        if status == "running":
            return Inspection("running", pid=int(state.get("pid") or 0) or None)
        return Inspection("stopped", message=f"crun reports {status}")

    async def update_resources(self, env_id: str, resources: Resources) -> list[str]:
        """Change a running environment's limits in place: cgroup files (no ``crun update``,
        which would fail as a whole on one limit the kernel refuses), the CPU loop's weight, the
        disk's quota. Returns ``"<limit>: <why>"`` for each limit that did not change."""
        notes = await asyncio.to_thread(
            cgroups.update, self.cgroups_path(env_id),
            cpus=None if self.cpu is not None else resources.cpu,
            memory_bytes=resources.memory_mib << 20, pids=resources.pids,
            swap=self.swap_accounting,
        )  # fmt: skip
        await self._govern_cpu(env_id, resources.cpu)
        if self.disks is not None:
            note = await asyncio.to_thread(self.disks.ensure, env_id, resources.disk_gib)
            if note:
                notes.append(f"disk_gib: {note}")
        return notes

    async def stats(self, env_id: str) -> Stats:
        values = await asyncio.to_thread(cgroups.stats, self.cgroups_path(env_id))
        disk = await asyncio.to_thread(self.disks.usage, env_id) if self.disks else None
        used, free = disk or (0, 0)
        return Stats(
            memory_bytes=values["memory"], memory_limit_bytes=values["memory_limit"],
            cpu_usage_ns=values["cpu_ns"], pids=values["pids"], oom_kills=values["oom_kills"],
            pids_limit_hits=values.get("pids_limit_hits", 0),
            disk_used_bytes=used, disk_limit_bytes=used + free,
        )  # fmt: skip

    async def list(self) -> list[str]:
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )


def _write_atomic(path: Path, content: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content)
    os.replace(tmp, path)


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("roost-exec-process", os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
