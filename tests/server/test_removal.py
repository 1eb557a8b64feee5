"""Deleting users and organizations: authorized, refused while environments depend on them,
everything else of theirs gone with them, and audited."""

from tests.support.plane import PlaneHarness


async def test_a_user_is_deleted_with_their_tokens_once_their_environments_are_gone(
    plane: PlaneHarness,
) -> None:
    mia = await plane.user("mia")
    env = (await mia.post("/api/v1/environments", json={"name": "mine"})).json()
    assert (await mia.delete("/api/v1/users/mia")).status_code == 403  # not an admin
    refused = await plane.admin.delete("/api/v1/users/mia")
    assert refused.status_code == 409 and "mine" in refused.json()["error"]["message"]
    r = await plane.admin.delete(f"/api/v1/environments/{env['metadata']['id']}")
    assert r.status_code in (200, 202, 204), r.text
    await plane.lifecycle()  # never placed: removed at once
    assert (await plane.admin.delete("/api/v1/users/mia")).status_code == 204
    assert (await mia.get("/api/v1/whoami")).status_code == 401  # its token died with it
    users = (await plane.admin.get("/api/v1/users")).json()
    assert "mia" not in [u["name"] for u in users]
    trail = (await plane.admin.get("/api/v1/audit")).json()["items"]
    assert any(e["action"] == "user.delete" and e["details"]["name"] == "mia" for e in trail)


async def test_an_organization_is_deleted_by_its_owner_with_its_projects(
    plane: PlaneHarness,
) -> None:
    r = await plane.admin.post("/api/v1/organizations", json={"name": "closing"})
    assert r.status_code == 201, r.text
    owner = await plane.user("olga", org="closing", role="owner")
    member = await plane.user("max", org="closing", role="member")
    assert (await owner.post("/api/v1/projects?organization=closing",
                             json={"name": "old"})).status_code == 201  # fmt: skip
    assert (await member.delete("/api/v1/organizations/closing")).status_code == 403
    assert (await owner.delete("/api/v1/organizations/closing")).status_code == 204
    orgs = [o["name"] for o in (await plane.admin.get("/api/v1/organizations")).json()]
    assert "closing" not in orgs
    projects = (await plane.admin.get("/api/v1/projects")).json()["items"]
    assert "old" not in [p["name"] for p in projects]


async def test_a_class_can_be_kept_to_admins(plane: PlaneHarness) -> None:
    member = await plane.user("mel")
    policy = (await plane.admin.get("/api/v1/organizations/default")).json()["policy"]
    policy["class_roles"] = {"large": "admin"}
    r = await plane.admin.patch("/api/v1/organizations/default", json={"policy": policy})
    assert r.status_code == 200, r.text
    refused = await member.post("/api/v1/environments", json={"spec": {"class": "large"}})
    assert refused.status_code == 403 and "kept to admins" in refused.json()["error"]["message"]
    small = await member.post("/api/v1/environments", json={"spec": {"class": "small"}})
    assert small.status_code == 201
    spec = small.json()["spec"] | {"class": "large"}
    url = f"/api/v1/environments/{small.json()['metadata']['id']}/spec"
    changed = await member.put(url, json={"spec": spec})
    assert changed.status_code == 403, changed.text  # not by a spec change either
    mine = await plane.admin.post("/api/v1/environments", json={"spec": {"class": "large"}})
    assert mine.status_code == 201
