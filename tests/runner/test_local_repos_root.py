"""Local repositories (paths, file://) on the runner host: refused unless the runner's admin
allows them, and then cloned as an unprivileged uid -- never able to read a root-only one."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from roost.core.errors import PermanentError
from roost.core.schemas.environments import Environment
from roost.runner.content import ContentStep, _make_workspace
from tests.runner.test_content_root import git

pytestmark = pytest.mark.root


def make_repo(root: Path, files: dict[str, str]) -> Path:
    """A repository right here (``test_content_root.make_repo`` copies it somewhere open)."""
    repo = root / "project"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch", "main")
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "first")
    return repo


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A directory any host user may traverse (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="roost-localrepo-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def env_for(url: str) -> Environment:
    now = datetime.now(UTC)
    return Environment.model_validate({
        "metadata": {"id": "e" * 20, "name": "e", "organization_id": "o", "owner_id": "u",
                     "created_at": now, "updated_at": now},
        "spec": {"content": {"repo_url": url}}, "status": {},
    })  # fmt: skip


def world_readable(path: Path) -> None:
    for root, _dirs, files in os.walk(path):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


@pytest.mark.parametrize("form", ["path", "file-url"])
async def test_a_root_only_repository_is_not_cloned(host_dir: Path, form: str) -> None:
    private = host_dir / "root-only"
    private.mkdir(mode=0o700)
    repo = make_repo(private, {"secret.txt": "root's secret\n"})
    url = str(repo) if form == "path" else f"file://{repo}"
    workspace = host_dir / "workspace"
    _make_workspace(workspace)
    with pytest.raises(PermanentError, match="readable by all users"):
        await ContentStep(allow_local_repos=True)._clone(env_for(url), workspace)
    assert not (workspace / "secret.txt").exists()


async def test_a_world_readable_repository_is_cloned_without_touching_its_files(
    host_dir: Path,
) -> None:
    repo = make_repo(host_dir, {"README.md": "hello\n"})
    world_readable(repo)
    before = {p: p.stat().st_uid for p in repo.rglob("*")}
    workspace = host_dir / "workspace"
    _make_workspace(workspace)
    await ContentStep(allow_local_repos=True)._clone(env_for(str(repo)), workspace)
    assert (workspace / "README.md").read_text() == "hello\n"
    assert {p: p.stat().st_uid for p in repo.rglob("*")} == before  # not handed to anyone


async def test_a_shared_runner_refuses_local_repositories(host_dir: Path) -> None:
    repo = make_repo(host_dir, {"README.md": "hello\n"})
    world_readable(repo)
    workspace = host_dir / "workspace"
    _make_workspace(workspace)
    for url in (str(repo), f"file://{repo}"):
        with pytest.raises(PermanentError, match="path on the runner host"):
            await ContentStep()._clone(env_for(url), workspace)
