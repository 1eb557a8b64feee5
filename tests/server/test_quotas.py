"""Quotas (per organization and per user: environments, running environments, CPU, memory,
disk) and size limits on what a client sends."""

from typing import Any

import httpx

from tests.support.plane import PlaneHarness

QUOTAS = "/api/v1/organizations/default/quotas"


async def create(client: httpx.AsyncClient, **spec: Any) -> httpx.Response:
    return await client.post("/api/v1/environments", json={"spec": spec})


def quota_error(r: httpx.Response, named: str) -> bool:
    body = r.json()["error"]
    return r.status_code == 409 and body["code"] == "quota_exceeded" and named in body["message"]


async def test_a_member_cannot_fill_the_runners(plane: PlaneHarness) -> None:
    r = await plane.admin.put(QUOTAS, json={"per_user": {"environments": 3, "running": 2}})
    assert r.status_code == 200, r.text
    alice = await plane.user("alice")
    made = [(await create(alice)).json()["metadata"]["id"] for _ in range(2)]
    r = await create(alice)
    assert quota_error(r, "running environments"), r.text
    r = await create(alice, desired_phase="stopped")
    assert r.status_code == 201, r.text
    assert quota_error(await create(alice, desired_phase="stopped"), "environments")
    stopped = r.json()["metadata"]["id"]
    assert quota_error(await alice.post(f"/api/v1/environments/{stopped}/start"), "running")
    await alice.post(f"/api/v1/environments/{made[0]}/stop")
    assert (await alice.post(f"/api/v1/environments/{stopped}/start")).status_code == 200
    bob = await plane.user("bob")  # per user: bob has his own
    assert (await create(bob)).status_code == 201


async def test_organization_quotas_on_resources(plane: PlaneHarness) -> None:
    big = {"name": "big", "resources": {"cpu": 4, "memory_mib": 8192}}
    await plane.admin.post("/api/v1/classes", json=big)
    r = await plane.admin.put(QUOTAS, json={"organization": {"cpu": 6, "memory_mib": 20000}})
    assert r.status_code == 200, r.text
    alice = await plane.user("alice")
    assert (await create(alice, **{"class": "big"})).status_code == 201
    assert quota_error(await create(alice, **{"class": "big"}), "cpu")
    assert (await create(alice, **{"class": "default"})).status_code == 201  # 2 more CPUs fit
    # held: big 20 GiB + default 4 GiB (tests shrink the built-in classes: support/plane.py)
    r = await plane.admin.put(QUOTAS, json={"organization": {"disk_gib": 25}})
    assert quota_error(await create(alice, desired_phase="stopped"), "disk")


async def test_only_platform_admins_set_quotas(plane: PlaneHarness) -> None:
    owner = await plane.user("olga", role="owner")
    r = await owner.put(QUOTAS, json={"per_user": {"environments": 1000}})
    assert r.status_code == 403, r.text
    assert (await owner.get(QUOTAS)).status_code == 200
    r = await plane.admin.put(QUOTAS, json={"per_user": {"environments": 10**9}})
    assert r.status_code == 400  # bounded too


async def test_request_and_field_sizes_are_bounded(plane: PlaneHarness) -> None:
    huge = "x" * (2 * 1024 * 1024)
    body = b'{"spec": {"image": "' + huge.encode() + b'"}}'
    headers = {"content-type": "application/json"}
    r = await plane.admin.post("/api/v1/environments", content=body, headers=headers)
    assert r.status_code == 413, r.status_code
    r = await create(plane.admin, env={"BIG": "y" * 100_000})
    assert r.status_code == 400 and "env" in r.text
    r = await create(plane.admin, env={f"K{i}": "v" for i in range(1000)})
    assert r.status_code == 400 and "env" in r.text
