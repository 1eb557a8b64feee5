"""SSH gateway admission: the plane decides which key may enter which environment."""

from typing import Any

import httpx

from tests.server.access_support import audit, public_key, running_env
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def ask(
    runner: FakeRunner, username: str, key: str, verified: bool = False
) -> httpx.Response:
    body: dict[str, Any] = {
        "username": username,
        "public_key": key,
        "verified": verified,
        "client_address": "192.0.2.7:5555",
    }
    return await runner.api.post(f"/api/v1/runners/{runner.id}/ssh/authorize", json=body)


async def test_the_owners_key_enters_by_id_or_name(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    alice = await plane.user("alice")
    key = public_key()
    await alice.post("/api/v1/ssh-keys", json={"public_key": key})
    env = await running_env(plane, runner, alice, keep_alive_sessions=True)
    env_id, name = env["metadata"]["id"], env["metadata"]["name"]
    for username in (env_id, name):
        r = await ask(runner, username, key)
        assert r.status_code == 200, r.text
        grant = r.json()
        assert (grant["environment_id"], grant["user_name"]) == (env_id, "alice")
        assert grant["keep_alive_sessions"] is True
    assert await audit(plane, "environment.ssh_login") == []  # offers are not logins
    assert (await ask(runner, env_id, key, verified=True)).status_code == 200
    [login] = await audit(plane, "environment.ssh_login")
    assert (login["outcome"], login["target_id"]) == ("allowed", env_id)
    assert login["details"]["client"] == "192.0.2.7:5555"


async def test_a_key_two_users_registered_opens_only_each_owners_environments(
    plane: PlaneHarness,
) -> None:
    runner = await FakeRunner(plane).register()
    alice = await plane.user("alice")
    bob = await plane.user("bob")
    key = public_key("shared")
    for user in (alice, bob):
        assert (await user.post("/api/v1/ssh-keys", json={"public_key": key})).status_code == 201
    env = await running_env(plane, runner, alice)
    env_id, name = env["metadata"]["id"], env["metadata"]["name"]
    for username in (env_id, name):
        r = await ask(runner, username, key)
        assert r.status_code == 200, r.text
        assert r.json()["user_name"] == "alice"
    assert (await alice.delete(f"/api/v1/ssh-keys/{r.json()['fingerprint']}")).status_code == 204
    r = await ask(runner, env_id, key)  # bob's registration of it is no key to alice's door
    assert r.status_code == 404
    assert "not one of yours" in r.json()["error"]["message"]


async def test_refusals_say_why_and_are_audited(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    other = await FakeRunner(plane, name="r2").register()
    alice = await plane.user("alice")
    bob = await plane.user("bob", role="admin")  # an org admin is still not the owner
    alice_key, bob_key = public_key("a"), public_key("b")
    await alice.post("/api/v1/ssh-keys", json={"public_key": alice_key})
    await bob.post("/api/v1/ssh-keys", json={"public_key": bob_key})
    env = await running_env(plane, runner, alice, runner=runner.id)
    env_id = env["metadata"]["id"]

    cases = [
        (runner, env_id, public_key("stranger"), 401, "not registered with Roost"),
        (runner, env_id, bob_key, 404, "not one of yours"),
        (runner, "no-such-name", alice_key, 404, "not one of yours"),
        (runner, env_id, "garbage", 401, "not registered"),
        (other, env_id, alice_key, 409, "runs on another runner"),
    ]
    for asker, username, key, status, words in cases:
        r = await ask(asker, username, key)
        assert r.status_code == status, (username, r.text)
        assert words in r.json()["error"]["message"]
    await alice.post(f"/api/v1/environments/{env_id}/stop")
    await runner.reconcile()
    r = await ask(runner, env_id, alice_key)
    assert r.status_code == 409
    assert f"start it with `roost env start {env_id} --wait`" in r.json()["error"]["message"]
    denied = await audit(plane, "environment.ssh_login")
    assert len(denied) == len(cases) + 1
    assert all(e["outcome"] == "denied" and e["details"]["reason"] for e in denied)


async def test_only_runners_ask_and_only_for_themselves(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    other = await FakeRunner(plane, name="r2").register()
    body = {"username": "x", "public_key": public_key()}
    r = await plane.admin.post(f"/api/v1/runners/{runner.id}/ssh/authorize", json=body)
    assert r.status_code == 404
    r = await other.api.post(f"/api/v1/runners/{runner.id}/ssh/authorize", json=body)
    assert r.status_code == 404
