"""Ports in the spec: the organization's admission cap at write time, and the audit trail."""

from tests.server.access_support import audit
from tests.support.plane import PlaneHarness


async def test_port_changes_are_audited(plane: PlaneHarness) -> None:
    r = await plane.admin.post("/api/v1/environments", json={"spec": {"ports": [{"port": 3000}]}})
    assert r.status_code == 201, r.text
    env = r.json()
    env_id = env["metadata"]["id"]
    for ports in ([{"port": 3000, "admission": "public"}, {"port": 8000}], [{"port": 8000}]):
        doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        r = await plane.admin.put(
            f"/api/v1/environments/{env_id}/spec", json={"spec": {**doc["spec"], "ports": ports}}
        )
        assert r.status_code == 200, r.text
    events = [
        (e["action"], e["details"])
        for e in (await plane.admin.get("/api/v1/audit")).json()["items"]
        if e["action"].startswith("environment.port_")
    ]
    assert sorted(events, key=str) == sorted(
        [  # one write's events share a millisecond
            ("environment.port_open", {"port": 3000, "admission": "owner"}),
            ("environment.port_admission", {"port": 3000, "from": "owner", "to": "public"}),
            ("environment.port_open", {"port": 8000, "admission": "owner"}),
            ("environment.port_close", {"port": 3000}),
        ],
        key=str,
    )


async def test_wider_than_the_policy_is_refused_with_the_cap(plane: PlaneHarness) -> None:
    await plane.admin.patch(
        "/api/v1/organizations/default", json={"policy": {"max_port_admission": "owner"}}
    )
    r = await plane.admin.post(
        "/api/v1/environments", json={"spec": {"ports": [{"port": 80, "admission": "public"}]}}
    )
    assert r.status_code == 403
    assert r.json()["error"] == {
        "code": "port_admission_not_allowed",
        "message": "port 80 asks for public admission, but organization default allows at most "
        "owner; use --admission owner",
    }
    [denied] = await audit(plane, "environment.port_open")
    assert denied["outcome"] == "denied"


async def test_a_port_appears_once(plane: PlaneHarness) -> None:
    r = await plane.admin.post(
        "/api/v1/environments", json={"spec": {"ports": [{"port": 80}, {"port": 80}]}}
    )
    assert r.status_code == 400 and "each port may appear once" in r.text


async def test_outsiders_learn_nothing_from_the_policy_check(plane: PlaneHarness) -> None:
    await plane.admin.patch(
        "/api/v1/organizations/default", json={"policy": {"max_port_admission": "owner"}}
    )
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await plane.admin.post("/api/v1/organizations", json={"name": "other"})
    carol = await plane.user("carol", org="other")
    spec = {**env["spec"], "ports": [{"port": 80, "admission": "public"}]}
    r = await carol.put(f"/api/v1/environments/{env['metadata']['id']}/spec", json={"spec": spec})
    assert r.status_code == 404
