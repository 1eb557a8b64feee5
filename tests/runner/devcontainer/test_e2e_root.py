"""One ``env create`` of a repository whose devcontainer.json builds from a Dockerfile, adds a
feature, forwards a port and runs hooks: a real runner, a real clone, a real build (root)."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roost.runner.images import Image
from roost.runner.images.base import default_mirror
from tests.runner.conftest import BUSYBOX_FULL, shared_image_store
from tests.runner.devcontainer.support import feature_files
from tests.runner.test_content_root import git
from tests.runner.test_content_root import make_repo as git_repo
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, real_runner, run_in, wait_phase

pytestmark = pytest.mark.root


@pytest.fixture
async def runner(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> AsyncIterator[RealRunner]:
    async with real_runner(plane, tmp_path, shared_image_store(), allow_local_repos=True) as r:
        yield r


async def create(plane: PlaneHarness, repo: Path) -> str:
    r = await plane.admin.post(
        "/api/v1/environments", json={"spec": {"content": {"repo_url": str(repo)}}}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["metadata"]["id"])


async def settled(plane: PlaneHarness, env_id: str) -> dict[str, Any]:
    """The environment once running and its background hooks are done."""
    for _ in range(1200):
        doc = await wait_phase(plane, env_id, "running", timeout=180)
        dev = doc["status"]["conditions"].get("devcontainer")
        if dev is not None and dev["phase"] != "progressing":
            return doc
        await asyncio.sleep(0.1)
    raise AssertionError("the devcontainer hooks did not finish")


async def test_dockerfile_feature_port_and_hooks_in_one_create(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    config = {
        "build": {"dockerfile": "Dockerfile", "args": {"GREETING": "built-with-args"}},
        "features": {"./tool": {"version": "2.1"}},
        "forwardPorts": [8080],
        "containerEnv": {"FROM_CONFIG": "yes"},
        "onCreateCommand": "echo on-create:$TOOL_HOME > /tmp/on-create",
        "postCreateCommand": "cat /etc/greeting > post-create.txt",
    }
    tool = feature_files(
        "tool", "mkdir -p /opt/tool && echo $VERSION > /opt/tool/version\n",
        options={"version": {"type": "string", "default": "1.0"}},
        containerEnv={"TOOL_HOME": "/opt/tool"}, postStartCommand="touch /tmp/tool-started",
    )  # fmt: skip
    files = {
        ".devcontainer/devcontainer.json": json.dumps(config),
        ".devcontainer/Dockerfile": (
            f"FROM {BUSYBOX_FULL}\nARG GREETING=none\nRUN echo $GREETING > /etc/greeting\n"
            # build steps use the environment's network: its address, its DNS and egress
            "RUN ip -4 -o addr show eth0 | awk '{print $4}' > /etc/build-address && "
            f"wget -q -O /dev/null {default_mirror('bookworm')}/dists/bookworm/Release && "
            "echo reached > /etc/build-net\n"
        ),
        **{f".devcontainer/{k}": v for k, v in tool.items()},
    }
    repo = git_repo(tmp_path / "src", files)
    env_id = await create(plane, repo)
    doc = await settled(plane, env_id)
    assert doc["status"]["conditions"]["devcontainer"]["phase"] == "ready", doc["status"]
    assert doc["status"]["conditions"]["machine"]["details"]["image"].startswith(
        "roost.local/build:"
    )
    script = (
        "cat /etc/greeting /opt/tool/version /tmp/on-create post-create.txt; "
        "echo $TOOL_HOME $FROM_CONFIG; test -e /tmp/tool-started && echo started; "
        "cat /etc/build-net; ip -4 -o addr show eth0 | awk '{print $4}' | cmp - /etc/build-address "
        "&& echo same-address"
    )
    code, out, err = await run_in(plane, plane.admin, env_id, "sh", "-c", script)
    assert code == 0, err
    assert out.splitlines() == [
        "built-with-args", "2.1", "on-create:/opt/tool", "built-with-args", "/opt/tool yes",
        "started", "reached", "same-address",
    ]  # fmt: skip
    build_log = runner.config.data_dir / "logs" / env_id / "build.log"
    assert "==> installing feature tool" in build_log.read_text()


async def test_a_missing_dockerfile_fails_the_environment_with_its_name(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    config = {"build": {"dockerfile": "Dockerfile.dev"}}
    repo = git_repo(tmp_path / "src", {".devcontainer/devcontainer.json": json.dumps(config)})
    env_id = await create(plane, repo)
    failed = await wait_phase(plane, env_id, "failed", timeout=60)
    assert (
        ".devcontainer/Dockerfile.dev not found (build.dockerfile)" in (failed["status"]["message"])
    )
    runners = (await plane.admin.get("/api/v1/runners")).json()["items"]
    assert runners[0]["allocated"]["cpu"] == 0  # a failed start holds no CPU

    # The user pushes the fix; `roost env start` retries, reading the repository again
    (repo / ".devcontainer" / "Dockerfile.dev").write_text(f"FROM {BUSYBOX_FULL}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "fix")
    r = await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    assert r.status_code == 200, r.text
    for _ in range(600):  # until the runner took the retry up
        doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        if doc["status"]["phase"] != "failed":
            break
        await asyncio.sleep(0.1)
    await wait_phase(plane, env_id, "running", timeout=120)


async def test_a_workspace_folder_elsewhere_keeps_the_repository_at_its_default_mount(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    """As with the reference CLI, ``workspaceFolder`` is only where commands start: the
    repository stays at ``/workspaces/<repo>`` for hooks that ``cd`` there."""
    config = {
        "image": BUSYBOX_FULL,
        "workspaceFolder": "/mnt/src/${localWorkspaceFolderBasename}",
        "containerEnv": {"W": "${containerWorkspaceFolder}", "N": 5},
        "postCreateCommand": "pwd > /tmp/pwd && cat /workspaces/project/marker > /tmp/marker",
    }
    files = {".devcontainer/devcontainer.json": json.dumps(config), "marker": "here\n"}
    repo = git_repo(tmp_path / "src", files)
    env_id = await create(plane, repo)
    doc = await settled(plane, env_id)
    assert doc["status"]["conditions"]["devcontainer"]["phase"] == "ready", doc["status"][
        "conditions"
    ]
    script = "cat /tmp/pwd /tmp/marker; echo $W $N"
    code, out, err = await run_in(plane, plane.admin, env_id, "sh", "-c", script)
    assert code == 0, err
    # ${localWorkspaceFolderBasename} is the repository's name, as in a user's checkout
    assert out.splitlines() == ["/mnt/src/project", "here", "/mnt/src/project 5"]


async def test_a_compose_configuration_fails_with_a_clear_message(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    config = {"dockerComposeFile": "compose.yml", "service": "app"}
    files = {
        ".devcontainer/devcontainer.json": json.dumps(config),
        ".devcontainer/compose.yml": "services:\n  app:\n    image: x\n",
    }
    env_id = await create(plane, git_repo(tmp_path / "src", files))
    failed = await wait_phase(plane, env_id, "failed", timeout=60)
    assert "Compose configurations are read" in failed["status"]["message"]
