"""``read-configuration``: the resolved configuration in the reference CLI's shape.

``{"configuration": {... with local variables substituted, "configFilePath": {...}},
"workspace": {"workspaceFolder", "workspaceMount"}, "mergedConfiguration": {...}}`` -- the last
only when asked, merged with the image's metadata label when the image is known.
"""

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from roost.core.devcontainer import jsonc, legacy, merge, model
from roost.core.devcontainer.substitute import Variables, devcontainer_id, substitute


@dataclass
class Resolved:
    """A devcontainer.json, read and checked, with its local variables substituted."""

    path: Path
    raw: dict[str, Any]
    configuration: dict[str, Any]
    config: model.DevcontainerConfig
    workspace_folder: str
    workspace_mount: str | None
    """None for a Compose configuration: its services' files say what is mounted."""
    warnings: list[str] = field(default_factory=list)


def resolve(
    path: Path,
    local_folder: Path,
    *,
    local_env: dict[str, str] | None = None,
    id_labels: dict[str, str] | None = None,
    default_folder: str | None = None,
    local_name: str | None = None,
) -> Resolved:
    """``default_folder`` is where the repository is mounted inside when the file names no
    ``workspaceMount`` (the reference CLI: ``/workspaces/<local folder name>``; Roost:
    ``/workspaces/<repository>``), and the folder to start in when it names no
    ``workspaceFolder``. A ``workspaceFolder`` elsewhere only changes where commands start: the
    repository stays mounted at the default, as the specification and the reference CLI do.
    ``local_name`` is the repository's name where ``local_folder`` is named otherwise."""
    text = _read(path)
    raw = jsonc.loads(text, path)
    if isinstance(raw, dict):
        raw = legacy.migrate(raw)
    config, warnings = model.validate(raw, str(path), text)
    folder = str(local_folder)
    mount_target = default_folder or f"/workspaces/{local_folder.name}"
    compose = "dockerComposeFile" in raw
    base = Variables(
        local_workspace_folder=folder,
        container_workspace_folder=_default_folder(raw, compose, mount_target),
        local_env=dict(os.environ) if local_env is None else local_env,
        devcontainer_id=devcontainer_id(id_labels) if id_labels else None,
        local_basename=local_name,
    )
    # ${containerWorkspaceFolder} is the workspace folder with its own variables resolved
    variables = replace(
        base, container_workspace_folder=substitute(base.container_workspace_folder, base)
    )
    resolved: dict[str, Any] = substitute(raw, variables)
    config, _ = model.validate(resolved, str(path), text)
    workspace_folder = resolved.get("workspaceFolder")
    if not isinstance(workspace_folder, str):
        workspace_folder = variables.container_workspace_folder
    mount = resolved.get("workspaceMount")
    if not compose and "workspaceMount" not in resolved:
        mount = f"type=bind,source={_quoted(folder)},target={_quoted(mount_target)}"
    return Resolved(path, raw, resolved, config, workspace_folder, mount, warnings)


def _default_folder(raw: dict[str, Any], compose: bool, mount_target: str) -> str:
    """The workspace folder as written (variables still in it), or the default: ``/`` for a
    Compose configuration (the service's own files decide), the repository's mount target
    otherwise."""
    written = raw.get("workspaceFolder")
    if isinstance(written, str) and written:
        return written
    return "/" if compose else mount_target


def _quoted(path: str) -> str:
    """A mount-string field, quoted when it holds a comma (the reference CLI's rule)."""
    return f'"{path}"' if "," in path else path


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise jsonc.ConfigError(path, 0, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise jsonc.ConfigError(path, 0, "not UTF-8 text") from None


def document(
    resolved: Resolved,
    *,
    merged: bool = False,
    image_label: str | None = None,
    explicit: bool = False,
) -> dict[str, Any]:
    """The reference CLI's output document for ``resolved`` (``explicit``: the file was named
    with ``--config``, which the reference records with a plain ``file`` URI scheme)."""
    scheme = "file" if explicit else "vscode-fileHost"
    file_uri = {"$mid": 1, "fsPath": str(resolved.path), "path": str(resolved.path),
                "scheme": scheme}  # fmt: skip
    doc: dict[str, Any] = {
        "configuration": {**resolved.configuration, "configFilePath": file_uri},
        "workspace": _workspace(resolved),
    }
    if merged:
        config = {**resolved.configuration, "configFilePath": file_uri}
        doc["mergedConfiguration"] = merge.merge(config, merge.metadata_entries(image_label))
    return doc


def _workspace(resolved: Resolved) -> dict[str, Any]:
    out: dict[str, Any] = {"workspaceFolder": resolved.workspace_folder}
    if resolved.workspace_mount is not None:
        out["workspaceMount"] = resolved.workspace_mount
    return out
