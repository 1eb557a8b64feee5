"""Secrets, private repositories and dotfiles in real environments (root)."""

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.runner.images import Image
from tests.runner.conftest import BUSYBOX_FULL, shared_image_store
from tests.support.githttp import private_git_server
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, real_runner, run_in, wait_phase

pytestmark = pytest.mark.root
VALUE = "v4lue-that-must-not-leak"


@pytest.fixture
async def runner(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> AsyncIterator[RealRunner]:
    for parent in (tmp_path, *tmp_path.parents):  # pytest's are 0700: the sandbox must pass
        if parent.stat().st_mode & 0o011 != 0o011:
            parent.chmod(parent.stat().st_mode | 0o011)
    async with real_runner(plane, tmp_path, shared_image_store(), subnet="10.217.1.0/24") as r:
        yield r


async def secret(client: httpx.AsyncClient, name: str, value: str, **body: Any) -> None:
    r = await client.post("/api/v1/secrets", json={"name": name, "value": value, **body})
    assert r.status_code == 200, r.text


async def create(client: httpx.AsyncClient, plane: PlaneHarness, **spec: Any) -> str:
    spec.setdefault("image", BUSYBOX_FULL)
    r = await client.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    await wait_phase(plane, env_id, "running")
    return env_id


async def sh(plane: PlaneHarness, client: httpx.AsyncClient, env_id: str, script: str) -> str:
    code, out, err = await run_in(plane, client, env_id, "sh", "-c", script)
    assert code == 0, err
    return out


def git(*args: str, cwd: Path) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def bare_repo(root: Path, name: str, files: dict[str, str]) -> Path:
    work = root / f"{name}-work"
    work.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch", "main", cwd=work)
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
        (work / rel).chmod(0o755)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "first", cwd=work)
    git("clone", "--quiet", "--bare", str(work), str(root / f"{name}.git"), cwd=root)
    return root / f"{name}.git"


async def test_secrets_reach_their_owners_environments_only(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    await plane.admin.post("/api/v1/organizations", json={"name": "globex"})
    alice, bob = await plane.user("alice"), await plane.user("bob")
    carol = await plane.user("carol", org="globex")
    await secret(alice, "TOKEN", VALUE)
    await secret(alice, "KEY", VALUE + "-file", file_path="/run/secrets/key")
    await secret(bob, "TOKEN", "bob's")
    await secret(plane.admin, "ORGVAR", "default-org", scope="organization",
                 organization="default")  # fmt: skip
    await secret(plane.admin, "ORGVAR", "globex-org", scope="organization",
                 organization="globex")  # fmt: skip
    a = await create(alice, plane)
    b = await create(bob, plane)
    c = await create(carol, plane)
    show = 'echo "$TOKEN|$ORGVAR"; f=/run/secrets/key; [ -e $f ] && cat $f && echo && '
    show += 'stat -c "%a %u" $f'
    out = await sh(plane, alice, a, show + "; true")
    assert out.splitlines() == [f"{VALUE}|default-org", f"{VALUE}-file", "600 0"]
    assert (await sh(plane, bob, b, show + "; true")).splitlines() == ["bob's|default-org"]
    assert (await sh(plane, carol, c, show + "; true")).splitlines() == ["|globex-org"]
    # not on the runner's disk in clear: not in the bundle, the state file or the logs
    for path in runner.config.data_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 1 << 20:
            assert VALUE.encode() not in path.read_bytes(), path
    doc = (await alice.get(f"/api/v1/environments/{a}")).json()
    assert doc["status"]["conditions"]["secrets"]["message"] == "2 as variables, 1 as files"
    assert VALUE not in str(doc)


async def test_a_private_repository_is_cloned_with_its_credential(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    alice = await plane.user("alice")
    bare_repo(tmp_path / "git", "private", {"README.md": "private stuff\n"})
    with private_git_server(tmp_path / "git", "alice", "tok3n") as server:
        url = f"{server.url}/private.git"
        r = await alice.post("/api/v1/environments", json={"spec": {
            "image": BUSYBOX_FULL, "content": {"repo_url": url}}})  # fmt: skip
        failed = await wait_phase(plane, r.json()["metadata"]["id"], "failed")
        assert "check the URL or the credential" in failed["status"]["message"]
        r = await alice.post(
            "/api/v1/environments",
            json={
                "spec": {
                    "image": BUSYBOX_FULL,
                    "content": {"repo_url": url, "credential_secret": "nope"},
                }
            },
        )
        failed = await wait_phase(plane, r.json()["metadata"]["id"], "failed")
        assert "'nope' is not a secret of this environment" in failed["status"]["message"]
        await secret(alice, "GIT_CREDENTIAL", "alice:tok3n")
        env_id = await create(
            alice, plane, content={"repo_url": url, "credential_secret": "GIT_CREDENTIAL"}
        )
    out = await sh(plane, alice, env_id, "cat /workspaces/private/README.md")
    assert out == "private stuff\n"
    config = (runner.config.data_dir / "workspaces" / env_id / ".git" / "config").read_text()
    assert "tok3n" not in config and url in config


async def test_dotfiles_are_installed_after_creation(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path
) -> None:
    alice, bob = await plane.user("alice"), await plane.user("bob")
    bare_repo(tmp_path / "git", "dots", {
        "install.sh": '#!/bin/sh\necho "installed for $(id -u) in $HOME" > "$HOME/.installed"\n',
        ".aliases": "alias ll='ls -l'\n"})  # fmt: skip
    bare_repo(tmp_path / "git", "plain", {".profile_extra": "export X=1\n"})
    with private_git_server(tmp_path / "git") as server:
        r = await alice.put("/api/v1/users/me/dotfiles", json={"url": f"{server.url}/dots.git"})
        assert r.status_code == 200, r.text
        await bob.put("/api/v1/users/me/dotfiles", json={"url": f"{server.url}/plain.git"})
        who = (await alice.get("/api/v1/whoami")).json()
        assert who["user"]["dotfiles_url"] == f"{server.url}/dots.git"
        a = await create(alice, plane)
        b = await create(bob, plane)
        for env_id in (a, b):
            await _condition(plane, env_id, "dotfiles", "ready")
    assert await sh(plane, alice, a, "cat /root/.installed") == "installed for 0 in /root\n"
    out = await sh(plane, bob, b, "readlink /root/.profile_extra; cat /root/.profile_extra")
    assert out == "/root/dotfiles/.profile_extra\nexport X=1\n"


async def _condition(plane: PlaneHarness, env_id: str, part: str, phase: str) -> None:
    for _ in range(200):
        doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        cond = doc["status"]["conditions"].get(part)
        if cond and cond["phase"] == phase:
            return
        assert not (cond and cond["phase"] == "failed"), cond
        await plane.schedule()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{part} never became {phase}: {doc['status']}")
