"""The image builder on buildah: ``build`` (a Dockerfile) and ``features`` from devcontainer.json.

One build, in order::

    base images ──provide──▶ buildah ──bud Dockerfile──▶ image ──bud features──▶ image
    (Roost's store)                                                                  │
    Roost's store ◀──────────────────────── import (new layers only) ◀── push ───────┘

* **Every image comes from Roost's store.** The images a Dockerfile names (and ``cacheFrom``)
  are pulled by the store -- its credentials, its insecure-registry rule, its digest checks --
  or are local (``roost.local/base:bookworm``), and handed to buildah through the exchange
  layout (:mod:`.exchange`), once per image digest. buildah runs with ``--pull=never``; it never
  talks to a registry itself.
* **Layer caching**: ``--layers``. An unchanged Dockerfile re-runs nothing; features are one
  ``COPY`` + ``RUN`` each (:mod:`.feature_layers`), so changing the last one rebuilds only it.
  The result lands in Roost's store once: its base layers are mapped back to the store's own,
  and an image already imported (same buildah image id) is not imported again.
* **Isolation** (:mod:`.buildahrun`, :mod:`.nsexec`): buildah runs as an unprivileged user
  namespace's root, ``RUN`` steps in crun containers inside it, on the environment's network
  (egress and firewall as the environment will have; no host services). The repository is
  mounted read-only. ``build.options`` (raw docker flags) are ignored, with a warning.
* ``cacheFrom`` images are provided like bases; buildah's layer cache uses them when their
  history matches. One that cannot be had is a warning, as with docker.

One environment's build (its repository, network, log; the Dockerfile and features steps) is a
:class:`~.build_job.BuildJob`; this module owns buildah, the hand-over and the import.

Errors: a missing Dockerfile or context, a path outside the repository, an unknown feature or
option, a failing instruction or feature (:mod:`.build_errors`) are permanent; a registry that
is down is temporary (``ImageUnavailable``), so the reconciler retries.
"""

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from roost.core.devcontainer.readconf import Resolved
from roost.core.errors import PermanentError
from roost.runner.devcontainer.build import dockerfile_of
from roost.runner.devcontainer.build_job import BuildJob, Log
from roost.runner.devcontainer.buildahrun import Buildah
from roost.runner.devcontainer.exchange import Exchange
from roost.runner.idalloc import IdAllocator
from roost.runner.images import ImageStore, canonical_ref
from roost.runner.images.refs import is_digest, normalize_ref
from roost.runner.images.registry import RegistryClient
from roost.runner.network import NetworkDriver

BuildNetwork = Callable[[str], Awaitable[tuple[Path, list[str]]]]
"""Given an environment id: its network namespace and nameservers, for the build's steps."""
BUILT = "roost.local/build"
BUILD_TIMEOUT = 3600.0


class BuildahBuilder:
    def __init__(
        self, root: Path, images: ImageStore, ids: IdAllocator, *,
        network: BuildNetwork | None = None, insecure_registries: tuple[str, ...] = (),
        timeout: float = BUILD_TIMEOUT,
    ) -> None:  # fmt: skip
        self.root = root
        self.images = images
        self.buildah = Buildah(root, ids)
        self.exchange = Exchange(root / "layout", images, self.buildah.give)
        self._network = network
        self._insecure = frozenset(insecure_registries)
        self.timeout = timeout
        self._lock = asyncio.Lock()
        """The exchange layout and the provided-images table: one user at a time."""
        self._ready = False
        self._named: dict[str, str] = {}
        """Names this process has given buildah images (name -> id): skips a ``tag`` call."""
        self._configs: dict[str, dict[str, Any]] = {}
        """Image configs by buildah image id (ids are content hashes: never stale)."""

    async def _setup(self) -> None:
        if not self._ready:
            await asyncio.to_thread(self.buildah.setup)
            await asyncio.to_thread(self.exchange.setup)
            self._ready = True

    async def build(self, resolved: Resolved, base_image: str, env_id: str, log: Log) -> str:
        await self._setup()
        repo = repo_root(resolved.path).resolve()
        netns, dns = await self._network(env_id) if self._network else (None, [])
        build = BuildJob(self, resolved, repo, env_id, log, netns, dns)
        if dockerfile_of(resolved):
            image_id = await build.dockerfile()
        else:
            image_id = await self.provide(base_image, log)
        if resolved.configuration.get("features"):
            image_id = await build.features(image_id)
        return await self.to_store(image_id, log)

    async def provide(self, ref: str, log: Log) -> str:
        """Make the store's image ``ref`` available to buildah under its name; its id there."""
        if is_digest(normalize_ref(ref)[2]):
            raise PermanentError(f"image {ref}: a digest reference cannot be built on; use a tag")
        image = await self.images.ensure(ref)
        name = canonical_ref(ref)
        async with self._lock:
            known = self._provided().get(image.digest)
            if known and self._named.get(name) == known:
                return known
            if known and (await self.buildah.run(["tag", known, name])).code == 0:
                self._named[name] = known
                return known
            log(f"==> handing {name} to the builder\n")
            tag = await self.exchange.export(image)
            out = await self.buildah.check(
                ["pull", "--quiet", f"oci:{self.buildah.inside(self.exchange.dir)}:{tag}"],
                f"loading {name}",
            )
            image_id = out.strip().splitlines()[-1]
            await self.buildah.check(["tag", image_id, name], f"naming {name}")
            self._save_provided({**self._provided(), image.digest: image_id})
            self._named[name] = image_id
        return image_id

    async def to_store(self, image_id: str, log: Log) -> str:
        """Import buildah's image into Roost's store (once per image id); its reference."""
        ref = f"{BUILT}:{image_id[:32]}"
        if await self.images.get(ref) is not None:
            return canonical_ref(ref)
        async with self._lock:
            tag = f"out-{image_id[:12]}"
            log(f"==> storing the image as {ref}\n")
            layout = f"oci:{self.buildah.inside(self.exchange.dir)}:{tag}"
            await self.buildah.check(["push", "--quiet", image_id, layout], "exporting it")
            image = await self.exchange.import_image(tag, ref)
        return image.ref

    async def inspect(self, image_id: str) -> dict[str, Any]:
        """The OCI config (``Labels``, ``User``...) of a buildah image."""
        if image_id not in self._configs:
            out = await self.buildah.check(["inspect", "--type", "image", image_id], "inspecting")
            self._configs[image_id] = dict(json.loads(out).get("OCIv1", {}).get("config") or {})
        return self._configs[image_id]

    def registry_client(self) -> RegistryClient:
        return RegistryClient(insecure_registries=self._insecure)

    def _provided(self) -> dict[str, str]:
        try:
            return dict(json.loads((self.root / "provided.json").read_bytes()))
        except (OSError, ValueError):
            return {}

    def _save_provided(self, table: dict[str, str]) -> None:
        tmp = self.root / "provided.json.tmp"
        tmp.write_text(json.dumps(table, sort_keys=True))
        tmp.replace(self.root / "provided.json")


def repo_root(config_path: Path) -> Path:
    """The repository a devcontainer.json belongs to, from where it is
    (``.devcontainer/[<name>/]devcontainer.json``, ``.devcontainer.json``); a file elsewhere
    (``--devcontainer PATH``) gets its own folder. Nothing above it is ever part of a build."""
    folder = config_path.parent
    if config_path.name == ".devcontainer.json":
        return folder
    if folder.name == ".devcontainer":
        return folder.parent
    if folder.parent.name == ".devcontainer":
        return folder.parent.parent
    return folder


def for_runner(
    root: Path, images: ImageStore, ids: IdAllocator, network: NetworkDriver,
    insecure_registries: tuple[str, ...] = (),
) -> BuildahBuilder | None:  # fmt: skip
    """The runner's builder, if buildah is installed. Build steps run in the environment's own
    network namespace (made early, idempotently; the start reuses it)."""
    if shutil.which("buildah") is None:
        return None

    async def build_network(env_id: str) -> tuple[Path, list[str]]:
        net = await network.create(env_id, "")
        servers = [line.split()[1] for line in net.resolv_conf.splitlines()
                   if line.startswith("nameserver ") and len(line.split()) > 1]  # fmt: skip
        return net.netns_path, servers

    return BuildahBuilder(
        root, images, ids, network=build_network, insecure_registries=insecure_registries
    )
