"""Workspace content and devcontainer.json in real environments: clone, hooks, users (root)."""

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roost.runner.images import Image
from tests.runner.conftest import shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.repos import reachable
from tests.support.runner import RealRunner, real_runner, run_in, wait_phase

pytestmark = pytest.mark.root


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                         check=True, env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                                          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                                          "HOME": str(repo.parent)})  # fmt: skip
    return out.stdout.strip()


def make_repo(root: Path, files: dict[str, str], name: str = "project") -> Path:
    repo = root / name
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch", "main")
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "first")
    git(repo, "tag", "v1")
    (repo / "later.txt").write_text("later\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "second")
    return reachable(repo)


@pytest.fixture
async def runner(
    plane: PlaneHarness, tmp_path: Path, debian_base: Image
) -> AsyncIterator[RealRunner]:
    async with real_runner(plane, tmp_path, shared_image_store(), allow_local_repos=True) as r:
        yield r


async def create(plane: PlaneHarness, repo: Path | str, **spec: Any) -> dict[str, Any]:
    spec["content"] = {"repo_url": str(repo), **spec.get("content", {})}
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def wait_devcontainer(plane: PlaneHarness, env_id: str) -> dict[str, Any]:
    """Running, with the devcontainer's hooks settled (ready or failed): what ``--wait`` waits
    for. Hooks run once the container runs, some in the background (after ``waitFor``)."""
    for _ in range(600):
        doc = await wait_phase(plane, env_id, "running")
        dev = doc["status"]["conditions"].get("devcontainer")
        if dev is not None and dev["phase"] != "progressing":
            return doc
        await asyncio.sleep(0.1)
    raise AssertionError(f"the devcontainer hooks did not settle: {doc['status']}")


async def sh(plane: PlaneHarness, env_id: str, script: str) -> tuple[int, str, str]:
    return await run_in(plane, plane.admin, env_id, "sh", "-c", script)


async def test_repository_is_cloned_into_its_workspace(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "src", {"README.md": "hello\n"})
    env = await create(plane, repo)
    done = await wait_phase(plane, env["metadata"]["id"], "running")
    assert done["status"]["conditions"]["content"]["phase"] == "ready"
    code, out, _ = await sh(plane, env["metadata"]["id"], "cat /workspaces/project/README.md; pwd")
    assert code == 0
    assert out.splitlines() == ["hello", "/workspaces/project"]  # sessions start there


async def test_a_ref_picks_the_tag_and_history_is_shallow_by_default(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "src", {"a.txt": "a\n"})
    url = f"file://{repo}"  # a URL: cloned shallow, like a remote
    env = await create(plane, url, content={"ref": "v1"})
    env_id = env["metadata"]["id"]
    await wait_phase(plane, env_id, "running")
    _, out, _ = await sh(plane, env_id, "cd /workspaces/project && ls && git rev-list --count HEAD")
    assert "later.txt" not in out.split()
    assert out.split()[-1] == "1"


async def test_unknown_ref_fails_with_a_clear_message(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "src", {"a.txt": "a\n"})
    env = await create(plane, f"file://{repo}", content={"ref": "no-such-branch"})
    failed = await wait_phase(plane, env["metadata"]["id"], "failed")
    assert "no branch, tag or commit 'no-such-branch'" in failed["status"]["message"]


@pytest.mark.parametrize("keep_layer", [False, True])
async def test_devcontainer_hooks_run_in_order_as_the_remote_user(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path, debian_base: Image, keep_layer: bool
) -> None:
    await plane.admin.post(
        "/api/v1/classes",
        json={"name": "keeper", "resources": {"keep_writable_layer": keep_layer}},
    )
    config = {
        "image": debian_base.ref,
        "remoteUser": "daemon",
        "containerEnv": {"GREETING": "hello"},
        "remoteEnv": {"SEEN_PATH": "${containerEnv:PATH}", "REPO": "${containerWorkspaceFolder}"},
        "onCreateCommand": "echo on-create >> hooks.log",
        "updateContentCommand": ["sh", "-c", "echo update-content >> hooks.log"],
        "postCreateCommand": {
            "a": "echo post-create-a >> a.log", "b": ["sh", "-c", "id -un > user.log"]
        },
        "postStartCommand": "echo post-start >> hooks.log; echo $GREETING $REPO > env.log",
        "postAttachCommand": "echo post-attach >> hooks.log",
    }  # fmt: skip
    repo = make_repo(tmp_path / "src", {".devcontainer/devcontainer.json": json.dumps(config)})
    env = await create(plane, repo, **{"class": "keeper"})
    env_id = env["metadata"]["id"]
    ready = await wait_devcontainer(plane, env_id)
    dev = ready["status"]["conditions"]["devcontainer"]
    assert dev["phase"] == "ready", dev
    _, out, _ = await sh(plane, env_id, "cat hooks.log a.log user.log env.log; id -un; pwd")
    assert out.splitlines() == [
        "on-create", "update-content", "post-start", "post-attach",
        "post-create-a", "daemon", "hello /workspaces/project", "daemon", "/workspaces/project",
    ]  # fmt: skip
    # A start after a stop runs the per-start hooks again; the create-time ones only when the
    # writable layer was not kept (a new container, as with the reference CLI)
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    await wait_phase(plane, env_id, "stopped")
    await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    await wait_phase(plane, env_id, "running")
    _, out, _ = await sh(plane, env_id, "sleep 1; cat hooks.log; id -un")
    assert out.splitlines().count("on-create") == (1 if keep_layer else 2)
    assert out.splitlines().count("post-start") == 2
    assert out.splitlines()[-1] == "daemon"  # still the remote user


async def test_failing_hook_is_reported_and_the_environment_stays_up(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path, debian_base: Image
) -> None:
    config = {"image": debian_base.ref, "onCreateCommand": "echo broken >&2; exit 3"}
    repo = make_repo(tmp_path / "src", {".devcontainer.json": json.dumps(config)})
    env = await create(plane, repo)
    env_id = env["metadata"]["id"]
    done = await wait_devcontainer(plane, env_id)
    dev = done["status"]["conditions"]["devcontainer"]
    assert dev["phase"] == "failed"
    assert "onCreateCommand failed with exit code 3" in dev["message"]
    assert (await sh(plane, env_id, "true"))[0] == 0  # reachable for debugging
    log = runner.config.data_dir / "logs" / env_id / "onCreateCommand.log"
    assert "broken" in log.read_text()


async def test_broken_devcontainer_json_names_file_and_line(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    repo = make_repo(
        tmp_path / "src", {".devcontainer/devcontainer.json": '{\n  "image": "x"\n  "name": 1\n}'}
    )
    env = await create(plane, repo)
    failed = await wait_phase(plane, env["metadata"]["id"], "failed")
    assert (
        ".devcontainer/devcontainer.json:3: Expecting ',' delimiter" in failed["status"]["message"]
    )


async def test_the_security_policy_refuses_privileged(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path, debian_base: Image
) -> None:
    config = {"image": debian_base.ref, "privileged": True}
    repo = make_repo(tmp_path / "src", {".devcontainer.json": json.dumps(config)})
    env = await create(plane, repo)
    failed = await wait_phase(plane, env["metadata"]["id"], "failed")
    message = failed["status"]["message"]
    assert "privileged: true asks for nested containers" in message
    assert "class 'default' does not allow (its policy nested_containers is off" in message


async def test_allowed_cap_add_and_tmpfs_mounts_are_applied(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path, debian_base: Image
) -> None:
    config = {
        "image": debian_base.ref,
        "capAdd": ["SYS_PTRACE"],
        "mounts": ["type=tmpfs,target=/scratch", {"type": "tmpfs", "target": "/cache"}],
    }
    repo = make_repo(tmp_path / "src", {".devcontainer.json": json.dumps(config)})
    env_id = (await create(plane, repo))["metadata"]["id"]
    await wait_devcontainer(plane, env_id)
    code, out, err = await sh(
        plane, env_id, "grep CapEff /proc/self/status; stat -f -c %T /scratch /cache"
    )
    assert code == 0, err
    cap_eff = int(out.split()[1], 16)
    assert cap_eff & (1 << 19)  # CAP_SYS_PTRACE, inside the environment's user namespace
    assert out.split()[2:] == ["tmpfs", "tmpfs"]


async def test_a_named_volume_is_refused_with_the_reason(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path, debian_base: Image
) -> None:
    config = {"image": debian_base.ref, "mounts": ["source=cache,target=/cache,type=volume"]}
    repo = make_repo(tmp_path / "src", {".devcontainer.json": json.dumps(config)})
    failed = await wait_phase(plane, (await create(plane, repo))["metadata"]["id"], "failed")
    assert "named volume, which this runner does not keep" in failed["status"]["message"]
