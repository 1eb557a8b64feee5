"""Automations in real environments: start triggers after the devcontainer's hooks, readiness,
dependencies, the runner's endpoints (tickets per purpose), logs, a broken file (root)."""

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.runner.images import Image
from tests.runner.conftest import BUSYBOX_FULL, shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.repos import reachable
from tests.support.runner import RealRunner, real_runner, run_in, wait_phase

pytestmark = pytest.mark.root

AUTOMATIONS = """\
services:
  web:
    name: Web server
    triggeredBy: [postEnvironmentStart]
    commands:
      start: "sleep 1; touch /tmp/web.ok; exec httpd -f -p 8080 -h /tmp"
      ready: "test -e /tmp/web.ok"
tasks:
  first:
    name: First
    command: "test -e /tmp/created && echo first >> /tmp/order"
    triggeredBy: [postDevcontainerStart]
  second:
    name: Second
    command: "echo second >> /tmp/order; echo token=$TOKEN"
    dependsOn: [first]
    triggeredBy: [postEnvironmentStart]
  hello:
    name: Manual hello
    command: "echo hello from a manual task"
"""


def make_repo(root: Path, files: dict[str, str]) -> Path:
    repo = root / "project"
    repo.mkdir(parents=True)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(root), "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=env, check=True)
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, env=env, check=True)
    return reachable(repo)


@pytest.fixture
async def runner(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> AsyncIterator[RealRunner]:
    async with real_runner(plane, tmp_path, shared_image_store(), allow_local_repos=True,
                           subnet="10.217.2.0/24") as r:  # fmt: skip
        yield r


async def create(plane: PlaneHarness, repo: Path) -> str:
    spec = {"image": BUSYBOX_FULL, "content": {"repo_url": str(repo)}}
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    await wait_phase(plane, env_id, "running")
    return env_id


async def condition(plane: PlaneHarness, env_id: str, want: str) -> dict[str, Any]:
    for _ in range(400):
        doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        cond = doc["status"]["conditions"].get("automations")
        if cond and cond["phase"] == want:
            return dict(cond)
        await asyncio.sleep(0.05)
    raise AssertionError(f"automations never {want}: {doc['status']['conditions']}")


async def runner_call(
    plane: PlaneHarness, env_id: str, purpose: str, method: str, path: str = "", **params: str
) -> httpx.Response:
    path_ = f"/api/v1/environments/{env_id}/exec"
    r = await plane.admin.post(path_, params={"purpose": purpose})
    assert r.status_code == 200, r.text
    ticket = r.json()
    headers = {"Authorization": f"Bearer {ticket['ticket']}"}
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.request(method, ticket["url"] + path, params=params, headers=headers)


async def test_automations_start_after_the_devcontainer_and_are_driven_by_the_runner(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    await plane.admin.post("/api/v1/secrets", json={"name": "TOKEN", "value": "t0k"})
    devcontainer = {"image": BUSYBOX_FULL, "postCreateCommand": "sleep 1; touch /tmp/created"}
    files = {".roost/automations.yaml": AUTOMATIONS, ".devcontainer.json": json.dumps(devcontainer)}
    repo = make_repo(tmp_path / "src", files)
    env_id = await create(plane, repo)
    ready = await condition(plane, env_id, "ready")
    assert ready["details"]["services"]["web"]["phase"] == "ready"
    assert ready["details"]["tasks"]["second"]["phase"] == "succeeded"
    assert ready["details"]["tasks"]["hello"]["phase"] == "pending"  # manual
    script = "cat /tmp/order; wget -qO- http://127.0.0.1:8080/order"
    code, out, _ = await run_in(plane, plane.admin, env_id, "sh", "-c", script)
    assert out.split() == ["first", "second", "first", "second"]  # after postCreateCommand

    listed = (await runner_call(plane, env_id, "automations", "GET")).json()
    assert [s["id"] for s in listed["services"]] == ["web"] and listed["file"].endswith(".yaml")
    r = await runner_call(plane, env_id, "automations", "POST", "/tasks/hello/run")
    assert r.status_code == 200, r.text
    r = await runner_call(plane, env_id, "logs", "GET", step="hello", follow="1")
    assert "hello from a manual task" in r.text
    r = await runner_call(plane, env_id, "logs", "GET", step="second")
    assert "token=t0k" in r.text  # secrets reach automations
    overview = (await runner_call(plane, env_id, "logs", "GET")).text
    assert "postCreateCommand" in overview and "task-hello" in overview

    r = await runner_call(plane, env_id, "automations", "POST", "/services/web/stop")
    assert r.json()["phase"] == "stopped", r.text
    code, _, _ = await run_in(plane, plane.admin, env_id, "wget", "-qO-", "http://127.0.0.1:8080")
    assert code != 0  # the server is gone
    r = await runner_call(plane, env_id, "automations", "POST", "/services/nope/start")
    assert r.status_code == 404 and "no service 'nope'" in r.text

    # a ticket is good for its purpose only, and once
    t = (await plane.admin.post(f"/api/v1/environments/{env_id}/exec",
                                params={"purpose": "logs"})).json()  # fmt: skip
    automations_url = t["url"].replace("/logs/", "/automations/")
    async with httpx.AsyncClient() as http:
        r = await http.get(automations_url, headers={"Authorization": f"Bearer {t['ticket']}"})
    assert r.status_code == 401


async def test_a_broken_file_is_reported_and_the_environment_stays_up(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    cyclic = "tasks:\n  a: {command: x, dependsOn: [b]}\n  b: {command: y, dependsOn: [a]}\n"
    repo = make_repo(tmp_path / "src", {".gitpod/automations.yaml": cyclic})
    env_id = await create(plane, repo)
    failed = await condition(plane, env_id, "failed")
    assert failed["message"] == ".gitpod/automations.yaml:2: dependency cycle: a -> b -> a"
    assert (await run_in(plane, plane.admin, env_id, "true"))[0] == 0
