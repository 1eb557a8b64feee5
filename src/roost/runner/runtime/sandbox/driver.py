"""The ``sandbox`` driver: the container bundle under gVisor (``runsc``, ptrace platform).

It *is* the container driver (a subclass) with runsc in crun's place: the same directories
under ``<root>/<env-id>/``, the same idmapped image layers and overlay, the same ``/etc`` files,
the same bundle from :func:`roost.runner.runtime.container.bundle.config`, adapted by
:mod:`.bundle`. What it adds:

* ``workspace/``: the workspace, idmapped on the host (runsc has no idmap mount option);
* ``seccomp.bpf``: the environment's profile compiled to BPF, for the exec launcher;
* ``bin/init``, ``bin/exec``: hard links to the init and the launcher;
* **a view** of the environment's directory at ``/run/roost/sandboxes/<env-id>`` (a recursive
  bind mount), which the bundle names instead. runsc's gofer opens the root filesystem and
  every bind source as the environment's root -- an unprivileged host uid -- so every directory
  on the way must let it pass, which the runner's directories (``<root>`` is 0700, and its
  parents may be anything) need not. The view's parents are 0711, and the environment's
  directory itself is ``root:<its gid>`` 0710: its own gofer may pass, other host users not;
* after start, a table in the environment's netns that silences the host stack there
  (:mod:`.hoststack`);
* exec through the launcher, so every process runs under the profile (:mod:`.launcher`);
* on stop, the cgroup removed (runsc leaves the ones it did not make on this boot);
* live updates reach the host cgroup only: gVisor sizes its memory, and the processes it
  allows inside, at boot.
"""

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from roost.core.schemas.projects import Resources
from roost.runner.idalloc import WORKSPACE_ID_BASE
from roost.runner.runtime.base import ExecRequest, RuntimeFailure, RuntimeSpec
from roost.runner.runtime.container import bundle as container_bundle
from roost.runner.runtime.container import cgroups, mounts, seccomp, seccomp_bpf
from roost.runner.runtime.container.driver import ContainerDriver
from roost.runner.runtime.sandbox import bundle, hoststack, launcher
from roost.runner.runtime.sandbox.runsc import Runsc

VIEWS = Path("/run/roost/sandboxes")
MS_BIND, MS_REC = 0x1000, 0x4000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class SandboxDriver(ContainerDriver):
    name = "sandbox"

    def __init__(
        self,
        root: Path,
        *,
        init_binary: Path,
        launcher_binary: Path,
        cgroup_parent: str = "roost",
        runsc: str = "runsc",
        views: Path = VIEWS,
    ) -> None:
        super().__init__(root, init_binary=init_binary, cgroup_parent=cgroup_parent)
        self.views = views
        self.crun = Runsc(root / ".runsc", runsc, bundle_for=lambda d: self.views / d.name)
        self.launcher_binary = launcher_binary

    @staticmethod
    def unavailable(runsc: str = "runsc") -> str | None:
        """Why this host cannot run sandboxes, or None when it can."""
        if shutil.which(runsc) is None:
            return "runsc is not installed: apt-get install runsc"
        probe = subprocess.run([runsc, "--version"], capture_output=True, check=False)
        if probe.returncode != 0:
            return f"runsc --version failed: {probe.stderr.decode(errors='replace').strip()}"
        try:
            seccomp_bpf.compile_profile(seccomp.profile())
        except (OSError, ValueError) as exc:
            return f"the seccomp profile cannot be compiled (apt-get install libseccomp2): {exc}"
        return None

    def _prepare_sync(self, spec: RuntimeSpec) -> None:
        super()._prepare_sync(spec)
        d = self.env_dir(spec.env_id)
        os.chown(d, 0, spec.id_base)
        os.chmod(d, 0o710)  # noqa: S103 - traversal for its own gofer (group), no listing
        self._mount_workspace_view(d, spec)
        self._link_binaries(d)
        self._mount_view(d)

    def _link_binaries(self, d: Path) -> None:
        (d / "bin").mkdir(exist_ok=True)
        for name, source in (("init", self.init_binary), ("exec", self.launcher_binary)):
            target = d / "bin" / name
            if target.exists() and target.stat().st_ino == source.stat().st_ino:
                continue
            tmp = target.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            try:
                os.link(source, tmp)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                shutil.copy2(source, tmp)  # another filesystem: a copy does as well
            os.replace(tmp, target)

    def _mount_view(self, d: Path) -> None:
        """``views/<env-id>``: a recursive bind of the environment's directory, made once its
        mounts (layers, overlay, workspace view) exist -- a recursive bind copies them."""
        view = self.views / d.name
        if view in mounts.mountpoints_under(view):
            return
        for parent in (self.views.parent, self.views):
            parent.mkdir(mode=0o711, exist_ok=True)
            os.chmod(parent, 0o711)  # noqa: S103 - traversal only, no listing
        view.mkdir(exist_ok=True)
        if _libc.mount(str(d).encode(), str(view).encode(), None, MS_BIND | MS_REC, None) != 0:
            err = ctypes.get_errno()
            raise RuntimeFailure(f"making the sandbox view {view}: {os.strerror(err)}")

    def _unmount_view(self, env_id: str) -> None:
        view = self.views / env_id
        mounts.umount(view)
        with contextlib.suppress(OSError):
            view.rmdir()

    def _mount_workspace_view(self, d: Path, spec: RuntimeSpec) -> None:
        """The workspace as crun's ``idmap`` option would show it: on-disk id
        ``WORKSPACE_ID_BASE + n`` is the environment's host id ``id_base + n``, which the gofer
        (in the environment's user namespace) sees as ``n``."""
        view = (d / "workspace").resolve()
        view.mkdir(exist_ok=True)
        if view in mounts.mountpoints_under(d):
            return
        ws_map = mounts.shift_map(spec.id_base, inside_base=WORKSPACE_ID_BASE)
        ns = mounts.userns_fd(ws_map, ws_map)
        try:
            mounts.idmap_bind(spec.workspace, view, ns)
        finally:
            os.close(ns)

    def _write_bundle(self, spec: RuntimeSpec) -> None:
        """The bundle, naming every host path through the view (see the module docstring)."""
        d, view = self.env_dir(spec.env_id), self.views / spec.env_id
        self._write_etc(d / "etc", spec)
        doc = container_bundle.config(
            spec, etc_dir=view / "etc", init_binary=view / "bin" / "init",
            cgroups_path=self.cgroups_path(spec.env_id), nofile=self.nofile,
            swap_accounting=self.swap_accounting, annotations={},
        )  # fmt: skip
        profile = doc["linux"].get("seccomp")
        if profile:
            _write_atomic(d / "seccomp.bpf", self._compiled(profile))
        doc = bundle.adapt(
            doc, workspace_view=view / "workspace", launcher_binary=view / "bin" / "exec",
            seccomp_filter=view / "seccomp.bpf" if profile else None,
        )  # fmt: skip
        _write_atomic(d / "config.json", json.dumps(doc, indent=1).encode())

    @staticmethod
    def _compiled(profile: dict[str, Any]) -> bytes:
        try:
            return seccomp_bpf.compile_profile(profile)  # cached per profile
        except (OSError, ValueError, KeyError) as exc:
            raise RuntimeFailure(f"compiling the seccomp profile failed: {exc}") from exc

    async def start(self, spec: RuntimeSpec) -> None:
        await super().start(spec)
        if spec.netns is not None:
            await hoststack.mute(spec.netns)

    async def _exec_process(self, env_id: str, request: ExecRequest) -> dict[str, Any]:
        """The container driver's process document, for the launcher running ``request``."""
        path = self.env_dir(env_id) / "config.json"
        filtered = bundle.has_seccomp(json.loads(await asyncio.to_thread(path.read_text)))
        return await super()._exec_process(env_id, launcher.wrap(request, filtered))

    async def stop(self, env_id: str, grace: float) -> None:
        await super().stop(env_id, grace)
        await asyncio.to_thread(self._unmount_view, env_id)
        await asyncio.to_thread(_remove_cgroup, self.cgroups_path(env_id))

    async def update_resources(self, env_id: str, resources: Resources) -> list[str]:
        """The container driver's live update of the host cgroup; what gVisor fixed at boot
        -- its memory size, the processes allowed inside -- follows at the next start."""
        notes = await super().update_resources(env_id, resources)
        return [*notes, *(f"{limit}: the sandbox takes it at its next start"
                          for limit in ("memory_mib", "pids"))]  # fmt: skip


def _remove_cgroup(path: str, root: Path = cgroups.ROOT) -> None:
    rel = path.strip("/")
    candidates = [root / rel] if (root / "cgroup.controllers").exists() else root.glob(f"*/{rel}")
    for directory in candidates:
        with contextlib.suppress(OSError):
            directory.rmdir()


def _write_atomic(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
