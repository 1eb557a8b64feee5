"""An organization's egress policy travels into its environments' specs (and changes them)."""

from tests.support.plane import PlaneHarness


async def policy(client, allow: object) -> object:  # type: ignore[no-untyped-def]
    return await client.patch(
        "/api/v1/organizations/default", json={"policy": {"egress_allow": allow}}
    )


async def test_specs_carry_the_policy_and_follow_its_changes(plane: PlaneHarness) -> None:
    before = (await plane.admin.post("/api/v1/environments", json={})).json()
    assert before["spec"]["egress_allow"] is None
    r = await policy(plane.admin, ["10.1.2.3", "10.0.0.0/8", "192.168.1.7/24"])
    assert r.status_code == 200, r.text
    assert r.json()["policy"]["egress_allow"] == ["10.0.0.0/8", "192.168.1.0/24"]
    env_id = before["metadata"]["id"]
    after = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert after["spec"]["egress_allow"] == ["10.0.0.0/8", "192.168.1.0/24"]
    assert after["spec"]["spec_version"] == before["spec"]["spec_version"] + 1  # a spec change
    fresh = (await plane.admin.post("/api/v1/environments", json={})).json()
    assert fresh["spec"]["egress_allow"] == ["10.0.0.0/8", "192.168.1.0/24"]
    # a client cannot write its own list: the plane stamps the organization's
    spec = {**fresh["spec"], "egress_allow": None}
    r = await plane.admin.put(f"/api/v1/environments/{fresh['metadata']['id']}/spec",
                              json={"spec": spec})  # fmt: skip
    assert r.json()["spec"]["egress_allow"] == ["10.0.0.0/8", "192.168.1.0/24"]
    r = await policy(plane.admin, ["10.0.0.0/8", "192.168.1.0/24"])  # the same list: no change
    same = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert same["spec"]["spec_version"] == after["spec"]["spec_version"]
    audit = (await plane.admin.get("/api/v1/audit?organization=default")).json()["items"]
    changes = [e for e in audit if e["action"] == "organization.policy"]
    assert sorted(e["details"]["environments"] for e in changes) == [0, 1]


async def test_only_admins_change_it_and_bad_entries_are_refused(plane: PlaneHarness) -> None:
    member = await plane.user("mia")
    r = await policy(member, [])
    assert r.status_code == 403
    audit = (await plane.admin.get("/api/v1/audit?organization=default")).json()["items"]
    assert any(e["action"] == "organization.policy" and e["outcome"] == "denied" for e in audit)
    r = await policy(plane.admin, ["example.com"])
    assert r.status_code == 400 and "IPv4" in r.text
    outsider = await plane.user("olga", org="")
    assert (await policy(outsider, [])).status_code == 404


async def test_an_organization_can_forbid_nested_containers_whatever_the_class(
    plane: PlaneHarness,
) -> None:
    r = await plane.admin.post(
        "/api/v1/classes", json={"name": "engines", "resources": {"nested_containers": True}}
    )
    assert r.status_code == 201, r.text
    r = await plane.admin.patch(
        "/api/v1/organizations/default", json={"policy": {"nested_containers": False}}
    )
    assert r.status_code == 200, r.text
    asked = {"class": "engines", "nested_containers": True}
    refused = await plane.admin.post("/api/v1/environments", json={"spec": asked})
    assert refused.status_code == 400
    assert "organization's policy forbids nested containers" in refused.text
    # without asking: created, but the class's permission is not in the spec (a devcontainer
    # asking for it is then refused by the runner)
    made = await plane.admin.post("/api/v1/environments", json={"spec": {"class": "engines"}})
    assert made.status_code == 201, made.text
    assert made.json()["spec"]["resources"]["nested_containers"] is False
