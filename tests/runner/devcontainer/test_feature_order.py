"""Feature install order, checked against the reference CLI's ``features resolve-dependencies``
on local features (no registry needed), plus the cases it cannot show (a cycle)."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from roost.runner.devcontainer.feature_oci import FeatureError
from roost.runner.devcontainer.feature_set import FeatureSet
from roost.runner.images.registry import RegistryClient

Features = dict[str, dict[str, Any]]
"""Feature folder name -> extra devcontainer-feature.json properties."""
CASES: dict[str, tuple[Features, dict[str, Any]]] = {
    "no constraints: by path": (
        {"zeta": {}, "alpha": {}, "mid": {}},
        {"features": {"./zeta": {}, "./alpha": {}, "./mid": {}}},
    ),
    "installsAfter chain": (
        {"a": {"installsAfter": ["./b"]}, "b": {"installsAfter": ["./c"]}, "c": {}},
        {"features": {"./a": {}, "./b": {}, "./c": {}}},
    ),
    "installsAfter an absent feature orders nothing": (
        {"a": {"installsAfter": ["./gone"]}, "b": {}},
        {"features": {"./b": {}, "./a": {}}},
    ),
    "dependsOn installs what the user did not list, with its options": (
        {"a": {"dependsOn": {"./c": {"flavour": "salty"}}}, "b": {}, "c": {"options": {
            "flavour": {"type": "string", "default": "plain"}}}},
        {"features": {"./a": {}, "./b": {}}},
    ),
    "a shared dependency is installed once": (
        {"a": {"dependsOn": {"./c": {}}}, "b": {"dependsOn": {"./c": {}}}, "c": {}},
        {"features": {"./b": {}, "./a": {}}},
    ),
    "overrideFeatureInstallOrder": (
        {"a": {"installsAfter": ["./b"]}, "b": {"dependsOn": {"./c": {"flavour": "salty"}}},
         "c": {"options": {"flavour": {"type": "string", "default": "plain"}}}, "local": {}},
        {"features": {"./a": {}, "./local": True, "./b": {}},
         "overrideFeatureInstallOrder": ["./c", "./local"]},
    ),
    "override beats id order": (
        {"a": {}, "b": {}, "c": {}},
        {"features": {"./a": {}, "./b": {}, "./c": {}}, "overrideFeatureInstallOrder": ["./c"]},
    ),
}  # fmt: skip


def write_case(root: Path, features: Features, config: dict[str, Any]) -> Path:
    folder = root / ".devcontainer"
    for name, extra in features.items():
        (folder / name).mkdir(parents=True)
        doc = {"id": name, "version": "1.0.0", **extra}
        (folder / name / "devcontainer-feature.json").write_text(json.dumps(doc))
        (folder / name / "install.sh").write_text("#!/bin/sh\n")
    (root / ".git").mkdir()
    (folder / "devcontainer.json").write_text(json.dumps({"image": "x", **config}))
    return folder / "devcontainer.json"


async def ours(path: Path) -> list[tuple[str, dict[str, Any]]]:
    resolver = FeatureSet(RegistryClient, path.parent / "cache", path.parent, path.parent.parent)
    order = await resolver.resolve(json.loads(path.read_text()))
    return [(f.user_id, dict(f.options)) for f in order]


def reference(root: Path) -> list[tuple[str, dict[str, Any]]]:
    done = subprocess.run(
        ["devcontainer", "features", "resolve-dependencies", "--workspace-folder", str(root)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    doc = json.loads(done.stdout[done.stdout.index("{") :])
    return [(e["id"], e["options"] if isinstance(e["options"], dict) else {})
            for e in doc["installOrder"]]  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
async def test_install_order_matches_the_reference_cli(case: str, tmp_path: Path) -> None:
    if shutil.which("devcontainer") is None:
        pytest.skip("the reference CLI is not installed (npm install -g @devcontainers/cli)")
    features, config = CASES[case]
    path = write_case(tmp_path, features, config)
    assert await ours(path) == reference(tmp_path)


async def test_a_cycle_is_an_error(tmp_path: Path) -> None:
    features: Features = {"a": {"dependsOn": {"./b": {}}}, "b": {"dependsOn": {"./a": {}}}}
    path = write_case(tmp_path, features, {"features": {"./a": {}}})
    with pytest.raises(FeatureError, match=r"features depend on each other in a cycle: \./a, \./b"):
        await ours(path)
