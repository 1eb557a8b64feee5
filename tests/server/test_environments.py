"""The environment API: spec / status, versions, conflicts, pagination, errors."""

import asyncio

from tests.support.plane import PlaneHarness


async def test_create_returns_spec_and_pending_status(plane: PlaneHarness) -> None:
    r = await plane.admin.post(
        "/api/v1/environments",
        json={
            "name": "web",
            "spec": {"class": "small", "content": {"repo_url": "https://x/y.git"}},
        },
    )
    assert r.status_code == 201, r.text
    env = r.json()
    assert env["metadata"]["name"] == "web"
    assert env["spec"]["spec_version"] == 1
    assert env["spec"]["desired_phase"] == "running"
    assert env["spec"]["class"] == "small"
    assert env["spec"]["resources"]["memory_mib"] == 1024  # copied from the class
    assert env["status"]["phase"] == "pending"
    assert env["status"]["observed_spec_version"] == 0
    got = (await plane.admin.get(f"/api/v1/environments/{env['metadata']['id']}")).json()
    assert got["spec"] == env["spec"]


async def test_default_name_comes_from_the_repository(plane: PlaneHarness) -> None:
    env = (
        await plane.admin.post(
            "/api/v1/environments", json={"spec": {"content": {"repo_url": "https://h/My_App.git"}}}
        )
    ).json()
    assert env["metadata"]["name"] == "my-app"  # no random suffix without a clash


async def test_stale_spec_write_gets_409(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    url = f"/api/v1/environments/{env['metadata']['id']}/spec"
    spec = env["spec"]
    first = await plane.admin.put(url, json={"spec": {**spec, "env": {"A": "1"}}})
    assert first.status_code == 200
    assert first.json()["spec"]["spec_version"] == 2
    stale = await plane.admin.put(url, json={"spec": {**spec, "env": {"B": "2"}}})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "spec_version_conflict"
    current = (await plane.admin.get(f"/api/v1/environments/{env['metadata']['id']}")).json()
    assert current["spec"]["env"] == {"A": "1"}


async def test_concurrent_spec_updates_one_wins(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    url = f"/api/v1/environments/{env['metadata']['id']}/spec"
    writes = [
        plane.admin.put(url, json={"spec": {**env["spec"], "env": {"N": str(i)}}}) for i in range(8)
    ]
    results = await asyncio.gather(*writes)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 7


async def test_start_stop_delete_bump_the_spec_version(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    env_id = env["metadata"]["id"]
    stopped = (await plane.admin.post(f"/api/v1/environments/{env_id}/stop")).json()
    assert stopped["spec"]["desired_phase"] == "stopped"
    assert stopped["spec"]["spec_version"] == 2
    again = (await plane.admin.post(f"/api/v1/environments/{env_id}/stop")).json()
    assert again["spec"]["spec_version"] == 2  # idempotent
    deleted = (await plane.admin.delete(f"/api/v1/environments/{env_id}")).json()
    assert deleted["spec"]["desired_phase"] == "deleted"
    r = await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    assert r.status_code == 409 and r.json()["error"]["code"] == "environment_deleting"


async def test_bad_input_is_400_with_a_message_naming_the_field(plane: PlaneHarness) -> None:
    r = await plane.admin.post("/api/v1/environments", json={"spec": {"clas": "small"}})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_input"
    assert "clas" in r.json()["error"]["message"]
    r = await plane.admin.post("/api/v1/environments", json={"spec": {"class": "huge"}})
    assert r.status_code == 400
    assert "unknown environment class 'huge'" in r.json()["error"]["message"]
    r = await plane.admin.post("/api/v1/environments", json={"name": "Bad Name"})
    assert r.status_code == 400


async def test_duplicate_names_conflict(plane: PlaneHarness) -> None:
    assert (await plane.admin.post("/api/v1/environments", json={"name": "a"})).status_code == 201
    r = await plane.admin.post("/api/v1/environments", json={"name": "a"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_exists"


async def test_lists_paginate_without_gaps_or_repeats(plane: PlaneHarness) -> None:
    created = set()
    for i in range(7):
        env = (await plane.admin.post("/api/v1/environments", json={"name": f"e{i}"})).json()
        created.add(env["metadata"]["id"])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await plane.admin.get("/api/v1/environments", params=params)).json()
        seen.extend(e["metadata"]["id"] for e in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert seen == sorted(created)
    r = await plane.admin.get("/api/v1/environments", params={"limit": 0})
    assert r.status_code == 400
    r = await plane.admin.get("/api/v1/environments", params={"cursor": "%%%"})
    assert r.status_code == 400


async def test_project_defaults_apply(plane: PlaneHarness) -> None:
    await plane.admin.post(
        "/api/v1/projects",
        json={
            "name": "api",
            "repo_url": "https://h/api.git",
            "settings": {"default_class": "large", "default_image": "debian:12"},
        },
    )
    env = (await plane.admin.post("/api/v1/environments", json={"project": "api"})).json()
    assert env["spec"]["content"]["repo_url"] == "https://h/api.git"
    assert env["spec"]["class"] == "large"
    assert env["spec"]["image"] == "debian:12"
    assert env["metadata"]["name"] == "api"


async def test_changes_are_audited(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await plane.admin.post(f"/api/v1/environments/{env['metadata']['id']}/stop")
    events = (await plane.admin.get("/api/v1/audit", params={"organization": "default"})).json()
    actions = [e["action"] for e in events["items"]]
    assert "environment.create" in actions and "environment.stop" in actions


async def test_openapi_document_lists_the_api(plane: PlaneHarness) -> None:
    doc = (await plane.client().get("/api/v1/openapi.json")).json()
    assert "/api/v1/environments/{env_id}/spec" in doc["paths"]
    assert "/api/v1/watch" in doc["paths"]


async def test_nested_containers_need_a_class_that_allows_them(plane: PlaneHarness) -> None:
    refused = await plane.admin.post(
        "/api/v1/environments", json={"spec": {"nested_containers": True}}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "nested_containers_refused"
    assert "class 'default' does not allow nested containers" in refused.json()["error"]["message"]
    made = await plane.admin.post(
        "/api/v1/classes", json={"name": "engines", "resources": {"nested_containers": True}}
    )
    assert made.status_code == 201, made.text
    env = await plane.admin.post(
        "/api/v1/environments", json={"spec": {"class": "engines", "nested_containers": True}}
    )
    assert env.status_code == 201, env.text
    assert env.json()["spec"]["resources"]["nested_containers"] is True


async def test_the_sandbox_runtime_refuses_nested_containers_with_the_reason(
    plane: PlaneHarness,
) -> None:
    resources = {"runtime": "sandbox", "nested_containers": True}
    r = await plane.admin.post("/api/v1/classes", json={"name": "sbx", "resources": resources})
    assert r.status_code in (400, 422)
    assert "gVisor" in r.text
