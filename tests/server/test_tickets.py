"""Exec/log tickets open the runner route they were minted for, once -- never the API."""

from tests.server.access_support import running_env
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def test_a_ticket_is_not_an_api_token(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane, access_url="http://127.0.0.1:8081").register()
    alice = await plane.user("alice", role="owner")
    env = await running_env(plane, runner, alice)
    env_id = env["metadata"]["id"]
    for purpose in ("exec", "logs"):
        r = await alice.post(f"/api/v1/environments/{env_id}/exec", params={"purpose": purpose})
        assert r.status_code == 200, r.text
        ticket = plane.client(r.json()["ticket"])
        for method, path, body in [
            ("GET", "/api/v1/whoami", None),
            ("GET", f"/api/v1/environments/{env_id}", None),
            ("POST", "/api/v1/tokens", {}),
            ("POST", "/api/v1/organizations/default/members", {"user": "x", "role": "owner"}),
        ]:
            got = await ticket.request(method, path, json=body)
            assert got.status_code == 401, (purpose, path, got.text)
            assert "ticket" in got.json()["error"]["message"]


async def test_a_ticket_opens_its_purpose_once(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane, access_url="http://127.0.0.1:8081").register()
    alice = await plane.user("alice")
    env_id = (await running_env(plane, runner, alice))["metadata"]["id"]
    ticket = (await alice.post(f"/api/v1/environments/{env_id}/exec")).json()["ticket"]
    verify = f"/api/v1/runners/{runner.id}/tickets/verify"
    body = {"ticket": ticket, "environment_id": env_id, "purpose": "logs"}
    assert (await runner.api.post(verify, json=body)).status_code == 401  # minted for exec
    ticket = (await alice.post(f"/api/v1/environments/{env_id}/exec")).json()["ticket"]
    body = {"ticket": ticket, "environment_id": env_id, "purpose": "exec"}
    assert (await runner.api.post(verify, json=body)).status_code == 200
    assert (await runner.api.post(verify, json=body)).status_code == 401  # spent
