"""Secrets on the plane: scopes, who may set and read them, encryption at rest, audit."""

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.server.services import crypto
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness

VALUE = "s3cr3t-value-" + "x" * 8


async def put(client: httpx.AsyncClient, name: str, value: str, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/secrets", json={"name": name, "value": value, **body})


async def env_of(client: httpx.AsyncClient, **body: Any) -> str:
    r = await client.post("/api/v1/environments", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["metadata"]["id"])


async def values(runner: FakeRunner, env_id: str) -> dict[str, str]:
    r = await runner.api.get(f"/api/v1/environments/{env_id}/secrets/values")
    assert r.status_code == 200, r.text
    return {i["name"]: i["value"] for i in r.json()["items"]}


async def test_values_are_never_returned_to_users(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    r = await put(alice, "TOKEN", VALUE)
    assert r.status_code == 200, r.text
    assert VALUE not in r.text and r.json()["env_var"] == "TOKEN"
    listed = await alice.get("/api/v1/secrets")
    assert [s["name"] for s in listed.json()] == ["TOKEN"] and VALUE not in listed.text
    audit = await plane.admin.get("/api/v1/audit")
    assert "secret.set" in audit.text and VALUE not in audit.text


async def test_values_are_encrypted_at_rest(plane: PlaneHarness, tmp_path: Path) -> None:
    alice = await plane.user("alice")
    await put(alice, "TOKEN", VALUE)
    await put(alice, "KEY", VALUE + "-file", file_path="/run/secrets/key")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert VALUE.encode() not in path.read_bytes(), path
    key = tmp_path / crypto.KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600


async def test_an_environment_gets_its_owner_project_and_org_secrets_only(
    plane: PlaneHarness,
) -> None:
    await plane.admin.post("/api/v1/organizations", json={"name": "globex"})
    alice = await plane.user("alice")
    bob = await plane.user("bob")
    carol = await plane.user("carol", org="globex")
    r = await plane.admin.post("/api/v1/projects", json={"name": "api"},
                               params={"organization": "default"})  # fmt: skip
    assert r.status_code == 201, r.text
    r = await put(plane.admin, "ORG", "org-default", scope="organization", organization="default")
    assert r.status_code == 200, r.text
    r = await put(plane.admin, "PROJ", "project-api", scope="project", project="api",
                  organization="default")  # fmt: skip
    assert r.status_code == 200, r.text
    await put(plane.admin, "ORG", "org-globex", scope="organization", organization="globex")
    await put(alice, "MINE", "alice's")
    await put(bob, "MINE", "bob's")
    runner = await FakeRunner(plane).register()
    a = await env_of(alice, project="api")
    b = await env_of(bob)
    c = await env_of(carol)
    await plane.schedule()
    assert await values(runner, a) == {"MINE": "alice's", "ORG": "org-default",
                                       "PROJ": "project-api"}  # fmt: skip
    assert await values(runner, b) == {"MINE": "bob's", "ORG": "org-default"}
    assert await values(runner, c) == {"ORG": "org-globex"}


async def test_only_the_assigned_runner_reads_values(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    await put(alice, "MINE", VALUE)
    runner = await FakeRunner(plane, "r1").register()
    env_id = await env_of(alice)
    await plane.schedule()
    other = await FakeRunner(plane, "r2").register()
    for client in (alice, plane.admin, other.api):
        r = await client.get(f"/api/v1/environments/{env_id}/secrets/values")
        assert r.status_code == 404 and VALUE not in r.text
    assert (await values(runner, env_id))["MINE"] == VALUE
    events = (await plane.admin.get("/api/v1/audit")).json()
    reads = [e for e in events["items"] if e["action"] == "secret.read"]
    assert {e["outcome"] for e in reads} == {"allowed", "denied"}
    allowed = next(e for e in reads if e["outcome"] == "allowed")
    assert allowed["details"]["names"] == ["MINE"]


async def test_the_most_specific_scope_wins_a_clash(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    runner = await FakeRunner(plane).register()
    await put(plane.admin, "TOKEN", "from-org", scope="organization")
    await put(plane.admin, "OTHER", "org-file", scope="organization", file_path="/etc/x")
    await put(alice, "TOKEN", "from-alice")
    await put(alice, "MINE", "alice-file", file_path="/etc/x")
    env_id = await env_of(alice)
    await plane.schedule()
    assert await values(runner, env_id) == {"TOKEN": "from-alice", "MINE": "alice-file"}


async def test_members_cannot_set_organization_secrets(plane: PlaneHarness) -> None:
    member = await plane.user("mallory")
    r = await put(member, "ORG", VALUE, scope="organization")
    assert r.status_code == 403 and "admins" in r.json()["error"]["message"]
    events = (await plane.admin.get("/api/v1/audit")).json()["items"]
    denied = [e for e in events if e["action"] == "secret.set" and e["outcome"] == "denied"]
    assert denied
    await put(plane.admin, "ORG", VALUE, scope="organization")
    listed = await member.get("/api/v1/secrets")
    assert [s["name"] for s in listed.json()] == ["ORG"]  # members see names
    r = await member.delete("/api/v1/secrets/ORG", params={"scope": "organization"})
    assert r.status_code == 403


async def test_other_organizations_secrets_are_invisible(plane: PlaneHarness) -> None:
    await plane.admin.post("/api/v1/organizations", json={"name": "globex"})
    r = await put(plane.admin, "G", VALUE, scope="organization", organization="globex")
    assert r.status_code == 200, r.text
    outsider = await plane.user("olive")  # in default only
    assert (await outsider.get("/api/v1/secrets")).json() == []
    r = await outsider.get("/api/v1/secrets", params={"scope": "organization",
                                                     "organization": "globex"})  # fmt: skip
    assert r.status_code == 404


async def test_set_replaces_and_delete_removes(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    runner = await FakeRunner(plane).register()
    await put(alice, "TOKEN", "one")
    r = await put(alice, "TOKEN", "two", file_path="/run/secrets/token")
    assert r.json()["file_path"] == "/run/secrets/token" and r.json()["env_var"] is None
    env_id = await env_of(alice)
    await plane.schedule()
    assert await values(runner, env_id) == {"TOKEN": "two"}
    assert (await alice.delete("/api/v1/secrets/TOKEN")).status_code == 204
    assert await values(runner, env_id) == {}
    assert (await alice.delete("/api/v1/secrets/TOKEN")).status_code == 404


async def test_names_that_are_not_variables_need_a_target(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    r = await put(alice, "npm-token", VALUE)
    assert r.status_code == 400 and "--env VAR" in r.text and VALUE not in r.text
    assert (await put(alice, "npm-token", VALUE, env_var="NPM_TOKEN")).status_code == 200
    r = await put(alice, "x", VALUE, file_path="relative/path")
    assert r.status_code == 400


def test_envelope_binds_each_value_to_its_row() -> None:
    box = crypto.SecretBox(os.urandom(32))
    sealed = box.seal(b"hello", "row-1")
    assert box.open(sealed, "row-1") == b"hello"
    with pytest.raises(crypto.SecretKeyError):
        box.open(sealed, "row-2")  # copied onto another row: refused
    rotated = crypto.SecretBox(os.urandom(32), old=(box._master,))
    assert rotated.open(sealed, "row-1") == b"hello"  # old rows open with the old key
    with pytest.raises(crypto.SecretKeyError, match="does not have"):
        crypto.SecretBox(os.urandom(32)).open(sealed, "row-1")


def test_the_master_key_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    key = os.urandom(32)
    monkeypatch.setenv(crypto.KEY_ENV, base64.urlsafe_b64encode(key).decode())
    box = crypto.box(tmp_path / "plane")
    assert box.key_id == crypto.key_id(key)
    assert not (tmp_path / "plane" / crypto.KEY_FILE).exists()
    monkeypatch.setenv(crypto.KEY_ENV, "too-short")
    with pytest.raises(crypto.SecretKeyError, match="32 bytes"):
        crypto.box(tmp_path / "other")
