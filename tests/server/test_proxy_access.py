"""Port proxy admission on the plane: the allow/deny table, the policy cap, browser sessions."""

from typing import Any

import httpx
import pytest

from tests.server.access_support import audit, running_env, token_of
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def decide(
    runner: FakeRunner, env_id: str, port: int, credential: str | None
) -> dict[str, Any]:
    body = {"environment_id": env_id, "port": port, "credential": credential}
    r = await runner.api.post(f"/api/v1/runners/{runner.id}/proxy/authorize", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def set_ports(
    client: httpx.AsyncClient, env_id: str, ports: list[dict[str, Any]]
) -> httpx.Response:
    doc = (await client.get(f"/api/v1/environments/{env_id}")).json()
    spec = {**doc["spec"], "ports": ports}
    return await client.put(f"/api/v1/environments/{env_id}/spec", json={"spec": spec})


@pytest.fixture
async def world(plane: PlaneHarness) -> dict[str, Any]:
    runner = await FakeRunner(plane, access_url="http://127.0.0.1:8081").register()
    alice = await plane.user("alice")
    bob = await plane.user("bob")
    await plane.admin.post("/api/v1/organizations", json={"name": "other"})
    carol = await plane.user("carol", org="other")
    env = await running_env(plane, runner, alice)
    return {
        "runner": runner,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "env_id": env["metadata"]["id"],
    }


TABLE = {  # admission -> status for alice (owner), bob (member), carol (outsider), anonymous
    "owner": (200, 403, 403, 401),
    "organization": (200, 200, 403, 401),
    "public": (200, 200, 200, 200),
}


@pytest.mark.parametrize("admission", list(TABLE))
async def test_allow_deny_table(plane: PlaneHarness, world: dict[str, Any], admission: str) -> None:
    env_id = world["env_id"]
    assert (
        await set_ports(world["alice"], env_id, [{"port": 8000, "admission": admission}])
    ).status_code == 200
    credentials = [token_of(world[n]) for n in ("alice", "bob", "carol")] + [None]
    for credential, expected in zip(credentials, TABLE[admission], strict=True):
        decision = await decide(world["runner"], env_id, 8000, credential)
        assert (200 if decision["allowed"] else decision["status"]) == expected, decision
        if decision["allowed"]:
            assert 0 < decision["cache_seconds"] <= 5
        else:
            assert decision["cache_seconds"] == 0 and decision["message"]
    denied = await audit(plane, "environment.proxy")
    assert len(denied) == sum(1 for s in TABLE[admission] if s != 200)


async def test_the_organization_policy_caps_admission(
    plane: PlaneHarness, world: dict[str, Any]
) -> None:
    env_id = world["env_id"]
    await set_ports(world["alice"], env_id, [{"port": 8000, "admission": "public"}])
    assert (await decide(world["runner"], env_id, 8000, None))["allowed"]
    r = await plane.admin.patch(
        "/api/v1/organizations/default", json={"policy": {"max_port_admission": "organization"}}
    )
    assert r.status_code == 200, r.text
    decision = await decide(world["runner"], env_id, 8000, None)  # tightened at once
    assert (decision["allowed"], decision["admission"]) == (False, "organization")
    assert (await decide(world["runner"], env_id, 8000, token_of(world["bob"])))["allowed"]
    r = await set_ports(world["alice"], env_id, [{"port": 9000, "admission": "public"}])
    assert r.status_code == 403
    assert "allows at most organization" in r.json()["error"]["message"]
    [refused] = [e for e in await audit(plane, "environment.port_open") if e["outcome"] == "denied"]
    assert refused["target_id"] == env_id


async def test_closed_ports_stopped_environments_and_other_runners(
    plane: PlaneHarness, world: dict[str, Any]
) -> None:
    env_id, runner = world["env_id"], world["runner"]
    owner = token_of(world["alice"])
    decision = await decide(runner, env_id, 8000, owner)
    assert (decision["status"], decision["code"]) == (404, "port_closed")
    assert f"roost env ports {env_id} open 8000" in decision["message"]
    await set_ports(world["alice"], env_id, [{"port": 8000, "admission": "public"}])
    other = await FakeRunner(plane, name="r2").register()
    assert (await decide(other, env_id, 8000, owner))["status"] == 404
    await world["alice"].post(f"/api/v1/environments/{env_id}/stop")
    await runner.reconcile()
    decision = await decide(runner, env_id, 8000, owner)
    assert (decision["status"], decision["code"]) == (503, "environment_not_running")


async def test_browser_sessions(plane: PlaneHarness, world: dict[str, Any]) -> None:
    env_id, runner = world["env_id"], world["runner"]
    await set_ports(world["alice"], env_id, [{"port": 8000, "admission": "organization"}])
    r = await world["bob"].post(f"/api/v1/environments/{env_id}/ports/8000/login")
    assert r.status_code == 200, r.text
    link = httpx.URL(r.json()["url"])
    assert link.host == f"8000-{env_id}.localhost"
    assert r.json()["path_url"].startswith(f"http://127.0.0.1:8081/p/{env_id}/8000/?roost_token=")
    login = link.params["roost_token"]
    assert (
        await world["carol"].post(f"/api/v1/environments/{env_id}/ports/8000/login")
    ).status_code == 404
    r = await world["alice"].post(f"/api/v1/environments/{env_id}/ports/9000/login")
    assert r.status_code == 409 and "not open" in r.json()["error"]["message"]

    exchange = {"login_token": login, "environment_id": env_id, "port": 8000}
    r = await runner.api.post(f"/api/v1/runners/{runner.id}/proxy/sessions", json=exchange)
    assert r.status_code == 200, r.text
    session = r.json()["token"]
    assert r.json()["user_name"] == "bob"
    again = await runner.api.post(f"/api/v1/runners/{runner.id}/proxy/sessions", json=exchange)
    assert again.status_code == 401 and "roost env ports" in again.json()["error"]["message"]
    assert (await decide(runner, env_id, 8000, session))["allowed"]
    assert (
        await plane.client(session).get("/api/v1/environments")
    ).status_code == 401  # not an API key

    plane.clock.advance(13 * 3600)
    decision = await decide(runner, env_id, 8000, session)
    assert decision["status"] == 401 and "expired" in decision["message"]
    logins = await audit(plane, "environment.proxy_login")
    assert sorted(e["outcome"] for e in logins) == ["allowed", "denied", "denied"]


async def test_forwarded_devcontainer_ports_are_the_owners(
    plane: PlaneHarness, world: dict[str, Any]
) -> None:
    env_id, runner = world["env_id"], world["runner"]
    env = (await world["alice"].get(f"/api/v1/environments/{env_id}")).json()
    ports = {
        "phase": "ready",
        "message": "3000 (owner, forwardPorts)",
        "details": {"forwarded": [3000]},
    }
    r = await runner.report(env, "running", conditions={"ports": ports})
    assert r.status_code == 200, r.text
    expected = [(token_of(world["alice"]), True), (token_of(world["bob"]), False), (None, False)]
    for credential, allowed in expected:
        assert (await decide(runner, env_id, 3000, credential))["allowed"] is allowed
    assert (await decide(runner, env_id, 3001, token_of(world["alice"])))["code"] == "port_closed"
