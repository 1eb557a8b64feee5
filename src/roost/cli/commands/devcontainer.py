"""``roost devcontainer read-configuration``: the resolved devcontainer.json, as the runner will
use it, in the reference CLI's output shape (so the two can be compared field by field)."""

import json
import os
from pathlib import Path

import click

from roost.cli.output import OUTPUT_OPTION, emit_json, show
from roost.core.devcontainer import compose, jsonc, locate, readconf
from roost.core.errors import RoostError


@click.group("devcontainer")
def devcontainer() -> None:
    """devcontainer.json tools."""


@devcontainer.command("read-configuration")
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=".")
@click.option("--config", "config_path", help="devcontainer.json to use (relative to PATH).")
@click.option("--include-merged-configuration", "merged", is_flag=True,
              help="Also merge with the image's devcontainer.metadata label.")  # fmt: skip
@click.option("--image-label", type=click.Path(exists=True, path_type=Path),
              help="A file holding the image's devcontainer.metadata label (JSON).")  # fmt: skip
@OUTPUT_OPTION
def read_configuration(
    path: Path, config_path: str | None, merged: bool, image_label: Path | None, output: str
) -> None:
    """Print the configuration of the workspace folder PATH."""
    folder = path.resolve()
    try:
        found = locate.find(folder, config_path)
        if found is None:
            raise RoostError(f"no devcontainer.json in {folder} (looked in .devcontainer/)")
        resolved = readconf.resolve(found, folder)
        if resolved.config.docker_compose_file:  # stricter than the reference: read them now
            compose.project_of(resolved.configuration, found, dict(os.environ))
    except jsonc.ConfigError as exc:
        raise RoostError(str(exc), code="invalid_devcontainer") from exc
    for warning in resolved.warnings:
        click.echo(f"warning: {warning}", err=True)
    label = image_label.read_text() if image_label else None
    doc = readconf.document(resolved, merged=merged, image_label=label, explicit=bool(config_path))
    if output == "json":
        emit_json(doc)
        return
    conf = resolved.configuration
    source = conf.get("image") or ("Dockerfile" if conf.get("build") else "-")
    if conf.get("dockerComposeFile"):
        source = f"Compose service {conf.get('service')}"
    rows = [
        [resolved.path, source, resolved.workspace_folder, json.dumps(conf.get("features", {}))]
    ]
    show(doc, output, rows, ["FILE", "IMAGE", "WORKSPACE", "FEATURES"])
