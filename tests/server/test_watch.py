"""Watch: long poll keyed by resource version; resume without missing changes."""

import asyncio
from datetime import timedelta

from roost.server.services import events
from tests.support.plane import PlaneHarness


async def watch(client, since, timeout=0.0, kind="environment"):  # type: ignore[no-untyped-def]
    params = {"kind": kind, "timeout": timeout} | ({} if since is None else {"since": since})
    r = await client.get("/api/v1/watch", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_watch_without_since_starts_now(plane: PlaneHarness) -> None:
    await plane.admin.post("/api/v1/environments", json={})
    result = await watch(plane.admin, None)
    assert result["events"] == []
    assert result["resource_version"] >= 1


async def test_long_poll_wakes_on_a_change(plane: PlaneHarness) -> None:
    start = (await watch(plane.admin, None))["resource_version"]
    waiter = asyncio.create_task(watch(plane.admin, start, timeout=20))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    env = (await plane.admin.post("/api/v1/environments", json={"name": "w"})).json()
    result = await asyncio.wait_for(waiter, 5)
    assert [e["object_id"] for e in result["events"]] == [env["metadata"]["id"]]
    assert result["events"][0]["type"] == "ADDED"
    assert result["events"][0]["object"]["metadata"]["name"] == "w"


async def test_long_poll_times_out_empty(plane: PlaneHarness) -> None:
    start = (await watch(plane.admin, None))["resource_version"]
    result = await watch(plane.admin, start, timeout=0.2)
    assert result == {"events": [], "resource_version": start}


async def test_resume_from_a_version_misses_nothing(plane: PlaneHarness) -> None:
    start = (await watch(plane.admin, None))["resource_version"]
    first = (await plane.admin.post("/api/v1/environments", json={"name": "a"})).json()
    mid = (await watch(plane.admin, start))["resource_version"]
    # the watcher "disconnects"; changes happen while it is away
    second = (await plane.admin.post("/api/v1/environments", json={"name": "b"})).json()
    await plane.admin.post(f"/api/v1/environments/{first['metadata']['id']}/stop")
    result = await watch(plane.admin, mid)
    ids = {e["object_id"] for e in result["events"]}
    assert ids == {first["metadata"]["id"], second["metadata"]["id"]}
    stopped = next(e for e in result["events"] if e["object_id"] == first["metadata"]["id"])
    assert stopped["object"]["spec"]["desired_phase"] == "stopped"


async def test_list_version_then_watch_sees_later_changes(plane: PlaneHarness) -> None:
    await plane.admin.post("/api/v1/environments", json={"name": "a"})
    listed = (await plane.admin.get("/api/v1/environments")).json()
    b = (await plane.admin.post("/api/v1/environments", json={"name": "b"})).json()
    result = await watch(plane.admin, listed["resource_version"])
    assert [e["object_id"] for e in result["events"]] == [b["metadata"]["id"]]


async def test_watchers_see_only_what_they_may(plane: PlaneHarness) -> None:
    frank = await plane.user("frank")
    start = (await watch(frank, None))["resource_version"]
    await plane.admin.post("/api/v1/environments", json={"name": "admins"})
    mine = (await frank.post("/api/v1/environments", json={"name": "franks"})).json()
    result = await watch(frank, start)
    assert [e["object_id"] for e in result["events"]] == [mine["metadata"]["id"]]


async def test_a_pruned_version_is_gone(plane: PlaneHarness) -> None:
    start = (await watch(plane.admin, None))["resource_version"]
    await plane.admin.post("/api/v1/environments", json={"name": "old"})
    plane.clock.advance(7200)
    await plane.admin.post("/api/v1/environments", json={"name": "new"})
    assert await events.prune(plane.ctx, timedelta(hours=1)) >= 1
    r = await plane.admin.get("/api/v1/watch", params={"since": start, "timeout": 0})
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "resource_version_expired"
    listed = (await plane.admin.get("/api/v1/environments")).json()
    assert (await watch(plane.admin, listed["resource_version"]))["events"] == []


async def test_a_change_between_the_read_and_the_wait_is_not_missed(plane: PlaneHarness) -> None:
    """The lost wake-up: a commit lands after the watch looked but before it sleeps."""
    from roost.server.services import events as events_service

    start = (await watch(plane.admin, None))["resource_version"]
    real_read = events_service.read_since
    created: list[str] = []

    async def read_then_commit(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = await real_read(*args, **kwargs)
        if not created:  # right after the first (empty) read, before the wait
            env = (await plane.admin.post("/api/v1/environments", json={"name": "racy"})).json()
            created.append(env["metadata"]["id"])
        return result

    events_service.read_since = read_then_commit  # type: ignore[assignment]
    try:
        t0 = asyncio.get_running_loop().time()
        result = await watch(plane.admin, start, timeout=10)
        elapsed = asyncio.get_running_loop().time() - t0
    finally:
        events_service.read_since = real_read  # type: ignore[assignment]
    assert [e["object_id"] for e in result["events"]] == created
    assert elapsed < 5
