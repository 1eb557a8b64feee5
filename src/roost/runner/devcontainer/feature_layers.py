"""Installing features: a generated build context and Dockerfile on top of the base image.

As the reference CLI does without BuildKit, each feature becomes its own ``COPY`` (its folder,
with an options file and a wrapper script) and ``RUN`` (the wrapper runs ``install.sh``), in
install order, after an ``ENV`` for its ``containerEnv``. buildah caches every one of those
layers: a change to the last feature (its files or its options) rebuilds only that feature's
layers, because ``COPY`` keys its cache on the content it copies.

``install.sh`` runs as root in the feature's folder, with ``set -a`` environment from:

* ``devcontainer-features.builtin.env``: ``_CONTAINER_USER`` and ``_REMOTE_USER`` (from the
  configuration, the image's metadata label, or the image's ``USER``);
  ``_CONTAINER_USER_HOME`` and ``_REMOTE_USER_HOME`` are looked up in ``/etc/passwd`` by the
  wrapper at install time, so a user created by an earlier feature is found;
* ``devcontainer-features.env``: the options (:func:`~.features.option_env`).

Values are single-quoted for ``sh``; ``containerEnv`` keys must be variable names and no value
may hold a newline, so nothing a feature declares can add a Dockerfile instruction. The image's
``devcontainer.metadata`` label (set with ``buildah bud --label``, not in the Dockerfile) lists
the base image's entries and then one per feature: its id and the properties the specification
carries over (init, privileged, capAdd, securityOpt, entrypoint, mounts, customizations and the
lifecycle commands). ``containerEnv`` goes into the image's environment instead, as ``ENV``,
where ``${PATH}``-style references are expanded -- as the reference CLI does.
"""

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.core.devcontainer.model import LIFECYCLE
from roost.runner.devcontainer.feature_oci import FeatureError
from roost.runner.devcontainer.features import Feature, option_env, safe_name

TARGET = "/tmp/dev-container-features"  # noqa: S108 - inside the image, as the reference
CARRIED = ("init", "privileged", "capAdd", "securityOpt", "entrypoint", "mounts",
           "customizations", *LIFECYCLE)  # fmt: skip
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WRAPPER = """#!/bin/sh
set -e
home_of() {
    while IFS=: read -r name _ _ _ _ home _; do
        if [ "$name" = "$1" ]; then echo "$home"; return 0; fi
    done < /etc/passwd
}
set -a
. ./devcontainer-features.builtin.env
_CONTAINER_USER_HOME="$(home_of "$_CONTAINER_USER")"
_REMOTE_USER_HOME="$(home_of "$_REMOTE_USER")"
. ./devcontainer-features.env
set +a
echo "==> installing feature "@ID@
chmod +x ./install.sh
./install.sh
"""


@dataclass(frozen=True)
class FeatureBuild:
    dockerfile: Path
    label: str
    """The ``devcontainer.metadata`` label of the result."""
    steps: Mapping[str, str]
    """``RUN`` instruction text -> the feature it installs (to name a failing feature)."""


def users(config: Mapping[str, Any], entries: Sequence[Mapping[str, Any]],
          image_user: str) -> tuple[str, str]:  # fmt: skip
    """(container user, remote user) as the features see them."""

    def last(key: str) -> str:
        values = [str(e[key]) for e in [*entries, config] if e.get(key)]
        return values[-1] if values else ""

    container = last("containerUser") or image_user or "root"
    return container, last("remoteUser") or container


def write(
    features: Sequence[Feature], context: Path, base: str, config: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]], image_user: str,
) -> FeatureBuild:  # fmt: skip
    container_user, remote_user = users(config, entries, image_user)
    lines = [f"FROM {base}", "USER root"]
    steps: dict[str, str] = {}
    for index, feature in enumerate(features):
        name = f"{index}-{safe_name(feature.id).lower()}"
        _folder(feature, context / name, container_user, remote_user)
        lines += _env_lines(feature)
        run = f"RUN cd {TARGET}/{name} && /bin/sh ./devcontainer-features-install.sh"
        lines += [f"COPY --chown=0:0 {name} {TARGET}/{name}", run]
        steps[run] = feature.user_id
    if image_user and image_user not in ("root", "0", "0:0"):
        lines.append(f"USER {image_user}")
    dockerfile = context / "Dockerfile"
    dockerfile.write_text("\n".join(lines) + "\n")
    label = [*entries, *(_entry(f) for f in features)]
    return FeatureBuild(dockerfile, json.dumps(label, separators=(",", ":")), steps)


def _folder(feature: Feature, dest: Path, container_user: str, remote_user: str) -> None:
    shutil.copytree(feature.folder, dest, symlinks=True)
    builtin = {"_CONTAINER_USER": container_user, "_REMOTE_USER": remote_user}
    (dest / "devcontainer-features.builtin.env").write_text(_env_file(builtin))
    (dest / "devcontainer-features.env").write_text(_env_file(option_env(feature)))
    (dest / "devcontainer-features-install.sh").write_text(
        WRAPPER.replace("@ID@", _quote(feature.id))
    )


def _env_file(values: Mapping[str, str]) -> str:
    return "".join(f"{k}={_quote(v)}\n" for k, v in values.items())


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _env_lines(feature: Feature) -> list[str]:
    env = feature.metadata.get("containerEnv") or {}
    out = []
    for key, value in dict(env).items():
        text = str(value)
        if not _ENV_NAME.match(str(key)) or "\n" in text or "\r" in text:
            raise FeatureError(
                f"feature '{feature.user_id}': containerEnv {key!r} is not a variable name or "
                "its value has a newline"
            )
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'ENV {key}="{escaped}"')
    return out


def _entry(feature: Feature) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": feature.user_id}
    entry.update({k: feature.metadata[k] for k in CARRIED if k in feature.metadata})
    return entry
