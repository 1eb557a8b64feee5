"""``roost devcontainer read-configuration`` against the reference CLI (npm
``@devcontainers/cli``), field by field, on a corpus covering every property Roost acts on and
every command form, and on configurations shaped like those of well-known public repositories
(Compose with overrides and ``.env``, legacy top-level ``settings``/``extensions``, variables in
``workspaceFolder``, a named subfolder, features with options). The reference needs Docker
only to look for containers and image labels; a fake ``docker`` answers those
(tests/support/fake_docker.py)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roost.core.devcontainer import locate, readconf

CORPUS = Path(__file__).parent / "corpus"
CASES = [
    ("image-everything", None),
    ("build-dockerfile", None),
    ("legacy-dockerfile", None),
    ("root-file", None),
    ("named", ".devcontainer/python/devcontainer.json"),
    ("named", ".devcontainer/node/devcontainer.json"),
    ("variables", None),
    ("legacy-settings", None),
    ("workspace-variables", None),
    ("subfolder-workspace", None),
    ("features-options", None),
    ("compose", None),
]
LABEL = json.dumps(
    [
        {
            "remoteUser": "imageuser",
            "containerEnv": {"LANG": "C", "IMAGE": "1"},
            "postCreateCommand": "echo from-image",
            "capAdd": ["NET_ADMIN"],
            "init": False,
            "forwardPorts": [3000, 4000],
            "mounts": [{"source": "a", "target": "/cache", "type": "volume"}],
            "hostRequirements": {"cpus": 4, "memory": "2gb"},
            "customizations": {"vscode": {"x": 1}},
        },
    ]
)
ENV = {"ROOST_TEST_VALUE": "from-the-caller"}


def reference_cli() -> str:
    found = shutil.which("devcontainer")
    if found is None:
        pytest.fail(
            "the reference CLI is missing: npm install -g @devcontainers/cli (./dev test does)"
        )
    return found


def reference(folder: Path, config: str | None, tmp: Path, merged: bool) -> dict[str, Any]:
    docker = tmp / "docker"
    fake = Path(__file__).parents[2] / "support" / "fake_docker.py"
    docker.write_text(f'#!/bin/sh\nexec {sys.executable} {fake} "$@"\n')
    docker.chmod(0o755)
    label = tmp / "label.json"
    label.write_text(LABEL)
    argv = [
        reference_cli(),
        "read-configuration",
        "--workspace-folder",
        str(folder),
        "--docker-path",
        str(docker),
    ] + (["--include-merged-configuration"] if merged else [])
    if config:
        argv += ["--config", str(folder / config)]
    env = {**os.environ, **ENV, "FAKE_DOCKER_LABEL": str(label)}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def ours(folder: Path, config: str | None) -> dict[str, Any]:
    path = locate.find(folder, config)
    assert path is not None
    resolved = readconf.resolve(path, folder, local_env={**os.environ, **ENV})
    return readconf.document(resolved, merged=True, image_label=LABEL, explicit=bool(config))


@pytest.mark.parametrize(("case", "config"), CASES)
def test_matches_the_reference_cli(case: str, config: str | None, tmp_path: Path) -> None:
    folder = tmp_path / case
    shutil.copytree(CORPUS / case, folder)
    # a merged configuration needs the image: the reference builds a Dockerfile, fetches
    # features (from registries that are out of reach here) and asks `docker compose` for a
    # Compose service's image -- so only image cases without features are merged
    conf = ours(folder, config)["configuration"]
    with_image = "image" in conf and "features" not in conf
    theirs = reference(folder, config, tmp_path, merged=with_image)
    mine = ours(folder, config)
    assert mine["configuration"] == theirs["configuration"]
    assert mine["workspace"] == theirs["workspace"]
    if with_image:
        assert mine["mergedConfiguration"] == theirs["mergedConfiguration"]
