"""Who may do what to whose environment (docs/security.md): organization admins may stop and
delete members' environments but not rewrite them; only owners change owners."""

from typing import Any

import httpx

from tests.support.plane import PlaneHarness


async def members_env(plane: PlaneHarness) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    alice = await plane.user("alice")
    env = (await alice.post("/api/v1/environments", json={})).json()
    return alice, env


async def test_an_org_admin_cannot_rewrite_a_members_environment(plane: PlaneHarness) -> None:
    _, env = await members_env(plane)
    env_id = env["metadata"]["id"]
    for who in (await plane.user("oscar", role="admin"), plane.admin):
        for change in ({"ports": [{"port": 80, "admission": "public"}]},
                       {"env": {"LD_PRELOAD": "/tmp/evil.so"}}):  # fmt: skip
            r = await who.put(f"/api/v1/environments/{env_id}/spec",
                              json={"spec": {**env["spec"], **change}})  # fmt: skip
            assert r.status_code == 403, r.text
            assert "owner" in r.json()["error"]["message"]
        assert (await who.post(f"/api/v1/environments/{env_id}/stop")).status_code == 200
    after = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert (after["spec"]["ports"], after["spec"]["env"]) == ([], {})
    oscar = await plane.user("oscar2", role="admin")
    assert (await oscar.delete(f"/api/v1/environments/{env_id}")).status_code in (200, 202, 204)


async def test_the_owner_still_changes_their_own_spec(plane: PlaneHarness) -> None:
    alice, env = await members_env(plane)
    r = await alice.put(f"/api/v1/environments/{env['metadata']['id']}/spec",
                        json={"spec": {**env["spec"], "env": {"A": "1"}}})  # fmt: skip
    assert r.status_code == 200, r.text


async def test_only_owners_demote_or_remove_owners(plane: PlaneHarness) -> None:
    await plane.user("olga", role="owner")
    oscar = await plane.user("oscar", role="admin")
    members = "/api/v1/organizations/default/members"
    r = await oscar.post(members, json={"user": "olga", "role": "member"})
    assert r.status_code == 403 and "owner" in r.json()["error"]["message"], r.text
    r = await oscar.delete(f"{members}/olga")
    assert r.status_code == 403 and "owner" in r.json()["error"]["message"], r.text
    roles = {m["user_name"]: m["role"] for m in (await oscar.get(members)).json()}
    assert roles["olga"] == "owner"
    await plane.user("mia")
    assert (await oscar.post(members, json={"user": "mia", "role": "admin"})).status_code == 201
    assert (await oscar.delete(f"{members}/mia")).status_code == 204  # admins manage the rest
