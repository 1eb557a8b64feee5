"""From a configuration's ``features`` to the features to install, in order.

Fetches each feature (from the repository or a registry), reads its metadata, adds its
``dependsOn`` recursively, and orders them all (:mod:`.feature_order`). A feature's identity for
``installsAfter`` and ``overrideFeatureInstallOrder`` is its *key*: ``registry/repository``
(tag dropped) for OCI features, the resolved folder for local ones.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from roost.runner.devcontainer import feature_oci
from roost.runner.devcontainer.feature_order import Node, order, same
from roost.runner.devcontainer.features import (
    Feature,
    kind_of,
    local_folder,
    read_metadata,
    user_options,
)
from roost.runner.images import ImageError
from roost.runner.images.refs import is_digest, normalize_ref
from roost.runner.images.registry import RegistryClient

Fetched = tuple[Path, str, str]
"""(folder, resource, manifest digest)."""


def key_of(user_id: str, config_dir: Path) -> str:
    if user_id.startswith(("./", "../")):
        return str((config_dir / user_id).resolve())
    try:
        host, repo, _ = normalize_ref(user_id)
    except ImageError:
        return user_id
    return f"{host}/{repo}"


class FeatureSet:
    """One resolution: the features of one configuration."""

    def __init__(
        self, client: Callable[[], RegistryClient], cache: Path, config_dir: Path, repo_root: Path
    ) -> None:
        self._client_factory = client
        self._cache = cache
        self._config_dir = config_dir
        self._repo_root = repo_root
        self._fetched: dict[str, Fetched] = {}

    async def resolve(self, config: dict[str, Any]) -> list[Feature]:
        wanted = [(uid, user_options(v)) for uid, v in (config.get("features") or {}).items()]
        nodes: list[Node] = []
        async with self._client_factory() as client:
            while wanted:
                uid, options = wanted.pop(0)
                feature = await self._load(client, uid, options)
                if any(same(n.feature, feature) for n in nodes):
                    continue
                node = Node(feature, installs_after=[
                    key_of(str(x), self._config_dir)
                    for x in feature.metadata.get("installsAfter") or []
                ])  # fmt: skip
                for dep_id, dep_value in dict(feature.metadata.get("dependsOn") or {}).items():
                    dep = await self._load(client, dep_id, user_options(dep_value))
                    node.depends_on.append(dep)
                    wanted.append((dep_id, user_options(dep_value)))
                nodes.append(node)
        override = [
            key_of(str(x), self._config_dir)
            for x in config.get("overrideFeatureInstallOrder") or []
        ]
        return order(nodes, override)

    async def _load(self, client: RegistryClient, uid: str, options: dict[str, Any]) -> Feature:
        kind = kind_of(uid)
        if uid not in self._fetched:
            if kind == "local":
                folder = local_folder(uid, self._config_dir, self._repo_root)
                self._fetched[uid] = (folder, str(folder), "")
            else:
                self._cache.mkdir(parents=True, exist_ok=True)
                self._fetched[uid] = await feature_oci.fetch(client, uid, self._cache)
        folder, resource, digest = self._fetched[uid]
        tag = "" if kind == "local" else normalize_ref(uid)[2]
        return Feature(
            user_id=uid, kind=kind, resource=resource, tag="" if is_digest(tag) else tag,
            digest=digest, folder=folder, metadata=read_metadata(folder, uid), options=options,
        )  # fmt: skip
