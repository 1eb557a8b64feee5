"""Building an environment's image from its devcontainer.json: a Dockerfile (``build``) and/or
``features``. The interface the devcontainer step uses; the implementation is
:mod:`roost.runner.devcontainer.buildah`."""

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from roost.core.devcontainer.readconf import Resolved
from roost.core.errors import PermanentError


class ImageBuilder(Protocol):
    async def build(
        self, resolved: Resolved, base_image: str, env_id: str, log: Callable[[str], None]
    ) -> str:
        """Build what ``resolved`` asks for on top of ``base_image`` (its ``image``, or the
        Dockerfile's result); return the reference of the built image, now in the runner's
        image store (with a ``devcontainer.metadata`` label listing the features' metadata)."""
        ...


class NoBuilder:
    """A runner without a builder refuses builds with a message that says what is missing."""

    async def build(
        self, resolved: Resolved, base_image: str, env_id: str, log: Callable[[str], None]
    ) -> str:
        raise PermanentError(
            f"{resolved.path}: building images (build / features) needs buildah on the runner "
            "(apt-get install buildah); or use an image"
        )


def needs_build(resolved: Resolved) -> bool:
    conf = resolved.configuration
    return bool(conf.get("build") or conf.get("dockerFile") or conf.get("features"))


def dockerfile_of(resolved: Resolved) -> tuple[Path, Path] | None:
    """(Dockerfile, context) resolved relative to the devcontainer.json, if it builds one."""
    conf = resolved.configuration
    build = conf.get("build") or {}
    dockerfile = build.get("dockerfile") or conf.get("dockerFile")
    if not dockerfile:
        return None
    base = resolved.path.parent
    context = build.get("context") or conf.get("context") or "."
    return (base / dockerfile).resolve(), (base / context).resolve()
