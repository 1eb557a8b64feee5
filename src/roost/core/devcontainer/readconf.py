"""``read-configuration``: the resolved configuration in the reference CLI's shape.

``{"configuration": {... with local variables substituted, "configFilePath": {...}},
"workspace": {"workspaceFolder", "workspaceMount"}, "mergedConfiguration": {...}}`` -- the last
only when asked, merged with the image's metadata label when the image is known.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.core.devcontainer import jsonc, merge, model
from roost.core.devcontainer.substitute import Variables, devcontainer_id, substitute


@dataclass
class Resolved:
    """A devcontainer.json, read and checked, with its local variables substituted."""

    path: Path
    raw: dict[str, Any]
    configuration: dict[str, Any]
    config: model.DevcontainerConfig
    workspace_folder: str
    workspace_mount: str
    warnings: list[str] = field(default_factory=list)


def resolve(
    path: Path,
    local_folder: Path,
    *,
    local_env: dict[str, str] | None = None,
    id_labels: dict[str, str] | None = None,
    default_folder: str | None = None,
) -> Resolved:
    """``default_folder`` is the workspace folder inside when the file names none (the
    reference CLI: ``/workspaces/<local folder name>``; Roost: ``/workspaces/<repository>``)."""
    text = _read(path)
    raw = jsonc.loads(text, path)
    config, warnings = model.validate(raw, str(path), text)
    folder = str(local_folder)
    container_folder = (
        config.workspace_folder or default_folder or f"/workspaces/{local_folder.name}"
    )
    variables = Variables(
        local_workspace_folder=folder,
        container_workspace_folder=container_folder,
        local_env=dict(os.environ) if local_env is None else local_env,
        devcontainer_id=devcontainer_id(id_labels) if id_labels else None,
    )
    resolved: dict[str, Any] = substitute(raw, variables)
    config, _ = model.validate(resolved, str(path), text)
    workspace_folder = resolved.get("workspaceFolder") or container_folder
    mount = resolved.get("workspaceMount") or (
        f"type=bind,source={folder},target={workspace_folder}"
    )
    return Resolved(path, raw, resolved, config, workspace_folder, mount, warnings)


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
        "workspace": {
            "workspaceFolder": resolved.workspace_folder,
            "workspaceMount": resolved.workspace_mount,
        },
    }
    if merged:
        config = {**resolved.configuration, "configFilePath": file_uri}
        doc["mergedConfiguration"] = merge.merge(config, merge.metadata_entries(image_label))
    return doc
