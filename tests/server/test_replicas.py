"""Three ``roost server`` replicas on one PostgreSQL behind haproxy: leased loops act once, a
replica killed with -9 is covered by the others, and watches see changes made anywhere."""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.live import run_cli
from tests.support.postgres import running_cluster
from tests.support.replicas import Cluster, replicas_behind_haproxy

pytestmark = pytest.mark.slow
LEASE_SECONDS = 3
CAPACITY = {"cpu": 64, "memory_mib": 1 << 20, "disk_gib": 10000, "environments": 100}


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with (
        running_cluster() as postgres,
        replicas_behind_haproxy(
            tmp_path_factory.mktemp("replicas"),
            postgres.url(),
            3,
            "--lease-seconds",
            str(LEASE_SECONDS),
        ) as cluster,
    ):
        yield cluster


def client(url: str, token: str) -> httpx.Client:
    transport = httpx.HTTPTransport(retries=3)  # connection failures to a dead replica
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60, transport=transport
    )


def call(http: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
    """One request through the balancer, retried while a dying replica drops it (the 502/503 a
    load balancer answers for a request in flight on a killed backend)."""
    for _ in range(20):
        try:
            r = http.request(method, path, **kw)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if r.status_code not in (502, 503):
            return r
        time.sleep(0.2)
    raise AssertionError(f"{method} {path} kept failing")


def register(plane: Cluster, admin: httpx.Client, region: str) -> tuple[str, httpx.Client]:
    reg = call(admin, "POST", "/api/v1/runners/registration-tokens", json={}).json()["secret"]
    body = {
        "registration_token": reg,
        "name": f"runner-{region}",
        "info": {"region": region, "capacity": CAPACITY},
    }
    registered = httpx.post(f"{plane.url}/api/v1/runners/register", json=body).json()
    return registered["runner"]["id"], client(plane.url, registered["token"])


def test_a_watch_on_one_replica_sees_a_change_made_through_another(plane: Cluster) -> None:
    a, b = plane.replicas[0], plane.replicas[1]
    with client(a.url, plane.admin_token) as on_a, client(b.url, plane.admin_token) as on_b:
        since = on_a.get("/api/v1/environments").json()["resource_version"]
        seen: list[float] = []

        def watch() -> None:
            r = on_a.get("/api/v1/watch", params={"kind": "environment", "since": since,
                                                   "timeout": 10})  # fmt: skip
            if r.json()["events"]:
                seen.append(time.monotonic())

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.5)  # the long poll is waiting on replica a
        assert on_b.post("/api/v1/environments", json={"name": "w"}).status_code == 201
        made = time.monotonic()  # committed
        watcher.join(15)
    assert seen, "the watch on replica a never saw the change made on replica b"
    assert seen[0] - made < 1.0, f"seen after {seen[0] - made:.2f} s"


def test_placements_happen_once_and_a_killed_replica_is_covered(plane: Cluster) -> None:
    admin = client(plane.url, plane.admin_token)
    with admin:
        ids = [
            call(admin, "POST", "/api/v1/environments",
                 json={"name": f"p{i}", "spec": {"region": "eu"}}).json()["metadata"]["id"]
            for i in range(24)
        ]  # fmt: skip
        since = call(admin, "GET", "/api/v1/environments").json()["resource_version"]
        runner_id, runner = register(plane, admin, "eu")  # every scheduler races for them now
        time.sleep(0.05)
        plane.replicas[2].kill()  # most likely in the middle of a scheduler pass
        with runner:
            placed = wait_placed(admin, ids, runner_id)
            # the runner keeps working through the death: heartbeat and watch via the balancer
            beat = call(runner, "POST", f"/api/v1/runners/{runner_id}/heartbeat",
                        json={"info": {"region": "eu", "capacity": CAPACITY}})  # fmt: skip
            assert beat.status_code == 200, beat.text
            watched = call(runner, "GET", "/api/v1/watch",
                           params={"kind": "environment", "since": since})  # fmt: skip
            events = watched.json()["events"]
        env_events = call(admin, "GET", "/api/v1/watch",
                          params={"kind": "environment", "since": since,
                                  "limit": 1000}).json()["events"]  # fmt: skip
    assert placed == set(ids)
    assert {e["object"]["metadata"]["id"] for e in events} >= set(ids)
    per_env = Counter(e["object"]["metadata"]["id"] for e in env_events if e["object"])
    assert all(per_env[i] == 1 for i in ids), f"placed more than once: {per_env}"
    result = run_cli("env", "list", "-o", "json",
                     env={"ROOST_URL": plane.url, "ROOST_TOKEN": plane.admin_token,
                          "ROOST_CONFIG": str(plane.data_dir / "cli.json")})  # fmt: skip
    assert result.returncode == 0, result.stderr


def wait_placed(admin: httpx.Client, ids: list[str], runner_id: str) -> set[str]:
    deadline = time.monotonic() + LEASE_SECONDS + 30
    while True:
        items = call(admin, "GET", "/api/v1/environments", params={"limit": 500}).json()["items"]
        placed = {e["metadata"]["id"] for e in items if e["status"]["runner_id"] == runner_id}
        if placed >= set(ids) or time.monotonic() > deadline:
            return placed & set(ids)
        time.sleep(0.2)
