"""The builder's wiring: which repository a configuration builds from, and runners without
buildah."""

from pathlib import Path

import pytest

from roost.runner.devcontainer import buildah
from roost.runner.devcontainer.buildah import repo_root
from roost.runner.idalloc import IdAllocator
from roost.runner.images import ImageStore
from roost.runner.network import FakeNetwork


def test_the_repository_is_where_the_configuration_says() -> None:
    repo = Path("/w/repo")
    assert repo_root(repo / ".devcontainer" / "devcontainer.json") == repo
    assert repo_root(repo / ".devcontainer.json") == repo
    assert repo_root(repo / ".devcontainer" / "python" / "devcontainer.json") == repo
    assert repo_root(repo / "configs" / "dev.json") == repo / "configs"  # never above


def test_no_buildah_no_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _: None)
    images = ImageStore(tmp_path / "images")
    built = buildah.for_runner(tmp_path / "b", images, IdAllocator(tmp_path / "ids"), FakeNetwork())
    assert built is None
