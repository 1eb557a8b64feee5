"""Merging devcontainer.json with the image's ``devcontainer.metadata`` label.

The label holds a JSON array of configuration snippets (from base images and installed
features); the devcontainer.json comes last. The specification's merge rules:

* lifecycle commands are *collected* in order into ``onCreateCommands`` ... ``postAttachCommands``
  (every entry runs: the image's first);
* ``init``, ``privileged``: true if any entry says so; ``capAdd``, ``securityOpt``: union;
* ``mounts``: collected, a later mount replacing an earlier one with the same target;
* ``remoteEnv``, ``containerEnv``, ``portsAttributes``: merged per key, the later wins;
* ``forwardPorts``: union, in order;
* ``remoteUser``, ``containerUser``, ``userEnvProbe``, ``shutdownAction``,
  ``updateRemoteUserUID``, ``overrideCommand``, ``otherPortsAttributes``: the last one set wins;
* ``hostRequirements``: the largest of each (memory and storage as byte counts);
* ``customizations``: collected per tool.

The output has the reference CLI's ``mergedConfiguration`` shape, so the two can be compared.
"""

import json
import re
from typing import Any

from roost.core.devcontainer.model import LIFECYCLE

LAST_WINS = ("remoteUser", "containerUser", "userEnvProbe", "shutdownAction",
             "updateRemoteUserUID", "overrideCommand", "otherPortsAttributes")  # fmt: skip
PER_KEY = ("remoteEnv", "containerEnv", "portsAttributes")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(tb|gb|mb|kb)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}


def parse_size(text: str | int) -> int | None:
    """``"4gb"`` → 4294967296 (binary units, as the reference CLI)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower() if match.group(2) else None])


def metadata_entries(label: str | None) -> list[dict[str, Any]]:
    """The ``devcontainer.metadata`` label's entries (a JSON array, or one object)."""
    if not label:
        return []
    try:
        doc = json.loads(label)
    except ValueError:
        return []
    entries = doc if isinstance(doc, list) else [doc]
    return [e for e in entries if isinstance(e, dict)]


def merge(config: dict[str, Any], image_entries: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [*image_entries, _without_features(config)]
    skip = {*LIFECYCLE, "customizations", "features"}
    merged: dict[str, Any] = {k: v for k, v in config.items() if k not in skip}
    merged["init"] = any(bool(e.get("init")) for e in entries)
    merged["privileged"] = any(bool(e.get("privileged")) for e in entries)
    _union(merged, entries, "capAdd")
    _union(merged, entries, "securityOpt")
    _union(merged, entries, "forwardPorts")
    _mounts(merged, entries)
    for key in LAST_WINS:
        values = [e[key] for e in entries if key in e]
        if values:
            merged[key] = values[-1]
    for key in PER_KEY:
        combined: dict[str, Any] = {}
        for e in entries:
            combined.update(e.get(key) or {})
        merged[key] = combined
    _host_requirements(merged, entries)
    merged["customizations"] = _customizations(entries)
    for key in LIFECYCLE:
        merged[key + "s"] = [e[key] for e in entries if e.get(key)]
    return merged


def _without_features(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "features"}


def _union(merged: dict[str, Any], entries: list[dict[str, Any]], key: str) -> None:
    out: list[Any] = []
    for e in entries:
        for item in e.get(key) or []:
            if item not in out:
                out.append(item)
    if out:
        merged[key] = out


def _mounts(merged: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    by_target: dict[str, Any] = {}
    for e in entries:
        for mount in e.get("mounts") or []:
            by_target[_target(mount)] = mount
    if by_target:
        merged["mounts"] = list(by_target.values())


def _target(mount: Any) -> str:
    if isinstance(mount, dict):
        return str(mount.get("target", ""))
    for part in str(mount).split(","):
        key, _, value = part.partition("=")
        if key.strip() in ("target", "dst", "destination"):
            return value.strip()
    return str(mount)


def _host_requirements(merged: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    found = [e["hostRequirements"] for e in entries if isinstance(e.get("hostRequirements"), dict)]
    if not found:
        return
    out: dict[str, Any] = {}
    cpus = [int(r["cpus"]) for r in found if isinstance(r.get("cpus"), int)]
    if cpus:
        out["cpus"] = max(cpus)
    for key in ("memory", "storage"):
        sizes = [s for r in found if r.get(key) is not None
                 if (s := parse_size(r[key])) is not None]  # fmt: skip
        if sizes:
            out[key] = str(max(sizes))
    gpus = [r["gpu"] for r in found if "gpu" in r]
    if gpus:
        out["gpu"] = gpus[-1]
    merged["hostRequirements"] = out


def _customizations(entries: list[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for e in entries:
        for tool, value in (e.get("customizations") or {}).items():
            out.setdefault(tool, []).append(value)
    return out
