"""Dev container features: what a ``features`` entry refers to, its metadata and its options.

A feature is a folder with ``devcontainer-feature.json`` (id, version, options, installsAfter,
dependsOn, containerEnv, mounts, lifecycle commands...) and ``install.sh``. It comes from

* an OCI registry -- ``registry/namespace/id[:tag|@digest]`` (:mod:`.feature_oci`), or
* the repository -- ``./name`` or ``../name``, relative to the devcontainer.json's folder, and
  required to stay inside the repository (a feature path is the repository's to choose, the
  runner host's files are not).

Direct tarball URLs and the long-deprecated bare names are refused with a message that says
what to use instead.

**Options.** ``true`` means the defaults, a string is the ``version`` option, an object sets
options by name. A name the feature does not declare, a value outside an ``enum`` or of the
wrong type is an error naming the feature and the option. ``install.sh`` sees each option as an
environment variable named the specification's way (non-alphanumerics to ``_``, a leading run
of digits and underscores to one ``_``, upper case), defaults filled in.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.runner.devcontainer.feature_oci import FeatureError

_NOT_WORD = re.compile(r"[^A-Za-z0-9_]")
_LEADING = re.compile(r"^[\d_]+")


@dataclass(frozen=True)
class Feature:
    user_id: str
    """As written in devcontainer.json (or in another feature's ``dependsOn``)."""
    kind: str
    """``oci`` or ``local``."""
    resource: str
    """``registry/repository`` for OCI features, the resolved folder for local ones."""
    tag: str
    digest: str
    folder: Path
    metadata: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.metadata.get("id") or Path(self.resource).name)

    @property
    def aliases(self) -> list[str]:
        """The ids ``installsAfter`` may use for this feature (its id, current and legacy)."""
        names = [str(self.metadata.get("currentId") or self.id)]
        names += [str(x) for x in self.metadata.get("legacyIds") or []]
        if self.kind == "oci":
            namespace = self.resource.rsplit("/", 1)[0]
            names = [f"{namespace}/{n}" for n in names]
        return [self.resource, *names]

    def options_key(self) -> str:
        return json.dumps(self.options, sort_keys=True)


def kind_of(user_id: str) -> str:
    if user_id.startswith(("./", "../")):
        return "local"
    if user_id.startswith(("https://", "http://")):
        raise FeatureError(
            f"feature '{user_id}': features from tarball URLs are not supported; publish it to "
            "an OCI registry or copy it into the repository (./name)"
        )
    if user_id.startswith("/") or "/" not in user_id:
        raise FeatureError(
            f"feature '{user_id}' is neither an OCI reference (registry/namespace/id:tag) nor a "
            "folder of the repository relative to devcontainer.json (./name)"
        )
    return "oci"


def local_folder(user_id: str, config_dir: Path, repo_root: Path) -> Path:
    folder = (config_dir / user_id).resolve()
    metadata = (folder / "devcontainer-feature.json").resolve()
    if not folder.is_relative_to(repo_root.resolve()) or not metadata.is_relative_to(folder):
        raise FeatureError(f"feature '{user_id}' is outside the repository")
    if not (folder / "devcontainer-feature.json").is_file():
        raise FeatureError(
            f"feature '{user_id}' not found: {folder.relative_to(repo_root.resolve())} has no "
            "devcontainer-feature.json"
        )
    return folder


def read_metadata(folder: Path, user_id: str) -> dict[str, Any]:
    from roost.core.devcontainer import jsonc  # noqa: PLC0415 - JSON with comments, like the spec

    try:
        doc = jsonc.load(folder / "devcontainer-feature.json")
    except jsonc.ConfigError as exc:
        raise FeatureError(f"feature '{user_id}': {exc}") from None
    if not isinstance(doc, dict) or not doc.get("id"):
        raise FeatureError(f"feature '{user_id}': devcontainer-feature.json has no id")
    if not (folder / "install.sh").is_file():
        raise FeatureError(f"feature '{user_id}' has no install.sh")
    return doc


def user_options(value: Any) -> dict[str, Any]:
    """A ``features`` value as an options object (``true``: defaults; a string: version)."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str):
        return {"version": value}
    return {}


def safe_name(option: str) -> str:
    return _LEADING.sub("_", _NOT_WORD.sub("_", option)).upper()


def option_env(feature: Feature) -> dict[str, str]:
    """Environment variables for ``install.sh``: every declared option, defaults filled in."""
    declared: dict[str, Any] = dict(feature.metadata.get("options") or {})
    unknown = sorted(set(feature.options) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise FeatureError(
            f"feature '{feature.user_id}' has no option {', '.join(map(repr, unknown))} "
            f"(its options: {known})"
        )
    env: dict[str, str] = {}
    for name, declaration in declared.items():
        spec = declaration if isinstance(declaration, dict) else {}
        value = feature.options.get(name, spec.get("default", ""))
        _check_value(feature, name, spec, value)
        env[safe_name(name)] = _text(value)
    return env


def _check_value(feature: Feature, name: str, spec: dict[str, Any], value: Any) -> None:
    where = f"feature '{feature.user_id}', option '{name}'"
    boolean = spec.get("type") == "boolean"
    if boolean and not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
        raise FeatureError(f"{where}: {value!r} is not a boolean")
    enum = spec.get("enum")
    if isinstance(enum, list) and _text(value) not in [_text(e) for e in enum]:
        allowed = ", ".join(_text(e) for e in enum)
        raise FeatureError(f"{where}: {value!r} is not one of {allowed}")
    if "\n" in _text(value) or "\0" in _text(value):
        raise FeatureError(f"{where}: the value may not contain newlines")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
