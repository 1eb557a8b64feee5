"""One environment's image build: its Dockerfile (if any), then its features.

A :class:`BuildJob` knows the repository (mounted read-only for the build, never anything above
it), the environment's network and the log; the :class:`Builder` (:mod:`.buildah`) provides base
images and owns buildah. Paths are checked to stay inside the repository, and every failure is
turned into a message that names what to fix (:mod:`.build_errors`).
"""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from roost.core.devcontainer import merge
from roost.core.devcontainer.readconf import Resolved
from roost.core.errors import PermanentError, RoostError
from roost.runner.devcontainer import build_errors, dockerfile, feature_layers
from roost.runner.devcontainer.build import dockerfile_of
from roost.runner.devcontainer.buildahrun import Bind, Buildah
from roost.runner.devcontainer.feature_set import FeatureSet
from roost.runner.images.registry import RegistryClient

Log = Callable[[str], None]


class Builder(Protocol):
    """What a job needs of :class:`~.buildah.BuildahBuilder`."""

    buildah: Buildah
    root: Path
    timeout: float

    async def provide(self, ref: str, log: Log) -> str: ...

    async def inspect(self, image_id: str) -> dict[str, Any]: ...

    def registry_client(self) -> RegistryClient: ...


class BuildJob:
    """One environment's build: its repository, network and log."""

    def __init__(
        self, builder: Builder, resolved: Resolved, repo: Path, env_id: str, log: Log,
        netns: Path | None, dns: list[str],
    ) -> None:  # fmt: skip
        self.b = builder
        self.resolved = resolved
        self.repo = repo
        self.env_id = env_id
        self.log = log
        self.netns = netns
        self.dns = [f"--dns={d}" for d in dns] if netns else ["--dns=none"]

    def bud_args(self, iidfile: Path, file: Path, context: Path) -> list[str]:
        """``buildah bud`` for paths under the builder's root."""
        inside = self.b.buildah.inside
        return ["bud", "--layers", "--force-rm", "--pull=never", "--isolation=oci",
                "--network=host", *self.dns, f"--iidfile={inside(iidfile)}",
                f"--file={inside(file)}", str(inside(context))]  # fmt: skip

    async def dockerfile(self) -> str:
        file, context = self._paths()
        build = self.resolved.configuration.get("build") or {}
        args = {str(k): str(v) for k, v in (build.get("args") or {}).items()}
        for image in dockerfile.base_images(file.read_text(errors="replace"), args):
            await self.b.provide(image, self.log)
        await self._cache_from(build.get("cacheFrom"))
        if build.get("options"):
            self.log(f"==> ignoring build.options {build['options']} (not supported)\n")
        scratch = self.b.buildah.scratch("build")
        mount = self.b.root / "mnt" / scratch.name
        mount.mkdir()
        try:
            extra = [f"--build-arg={k}={v}" for k, v in args.items()]
            if build.get("target"):
                extra.append(f"--target={build['target']}")
            argv = self.bud_args(scratch / "iid", mount / file.relative_to(self.repo),
                                 mount / context.relative_to(self.repo))  # fmt: skip
            argv[-1:-1] = extra
            self.log(f"==> building {file.relative_to(self.repo)}\n")
            result = await self.b.buildah.run(
                argv, log=self.log, netns=self.netns, timeout=self.b.timeout,
                binds=[Bind(self.repo, self.b.buildah.inside(mount), workspace_ids=True)],
            )  # fmt: skip
            if result.code != 0:
                shown = str(file.relative_to(self.repo))
                raise build_errors.dockerfile_failure(result.tail, file, shown, self.env_id)
            return (scratch / "iid").read_text().strip().removeprefix("sha256:")
        finally:
            mount.rmdir()
            shutil.rmtree(scratch, ignore_errors=True)

    def _paths(self) -> tuple[Path, Path]:
        found = dockerfile_of(self.resolved)
        if found is None:
            raise PermanentError("no Dockerfile in the configuration")
        file, context = found
        conf = self.resolved.configuration
        prop = "build.dockerfile" if (conf.get("build") or {}).get("dockerfile") else "dockerFile"
        for path, what in ((file, prop), (context, "build.context")):
            if not path.is_relative_to(self.repo):
                raise PermanentError(f"{what} {path} is outside the repository")
        if not file.is_file():
            raise PermanentError(f"{file.relative_to(self.repo)} not found ({prop})")
        if not context.is_dir():
            raise PermanentError(f"{context.relative_to(self.repo)} not found (build.context)")
        return file, context

    async def _cache_from(self, value: Any) -> None:
        for ref in [value] if isinstance(value, str) else list(value or []):
            try:
                await self.b.provide(str(ref), self.log)
            except RoostError as exc:
                self.log(f"==> cacheFrom {ref} skipped: {exc.message}\n")

    async def features(self, base_id: str) -> str:
        conf = self.resolved.configuration
        resolver = FeatureSet(self.b.registry_client, self.b.root / "features",
                              self.resolved.path.parent, self.repo)  # fmt: skip
        features = await resolver.resolve(conf)
        self.log(f"==> features, in install order: {', '.join(f.user_id for f in features)}\n")
        config = await self.b.inspect(base_id)
        entries = merge.metadata_entries((config.get("Labels") or {}).get("devcontainer.metadata"))
        scratch = self.b.buildah.scratch("features")
        try:
            fb = feature_layers.write(features, scratch, base_id, conf, entries,
                                      str(config.get("User") or ""))  # fmt: skip
            self.b.buildah.give(scratch)
            argv = self.bud_args(scratch / "iid", fb.dockerfile, scratch)
            argv[-1:-1] = [f"--label=devcontainer.metadata={fb.label}"]
            result = await self.b.buildah.run(
                argv, log=self.log, netns=self.netns, timeout=self.b.timeout
            )
            if result.code != 0:
                raise build_errors.feature_failure(result.tail, fb.steps, self.env_id)
            return (scratch / "iid").read_text().strip().removeprefix("sha256:")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
