"""The database goes away for 20 s under a live ``roost server``: requests fail with 503 and a
clear message, control loops pause, and everything resumes by itself -- no transition lost or
applied twice."""

import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import LiveServer, live_server
from tests.support.postgres import Cluster, running_cluster

OUTAGE_SECONDS = 20.0
CAPACITY = {"cpu": 8, "memory_mib": 65536, "disk_gib": 1000, "environments": 50}
HEARTBEAT = {"info": {"capacity": CAPACITY}}


def register(url: str, admin: httpx.Client) -> tuple[str, httpx.Client]:
    reg = admin.post("/api/v1/runners/registration-tokens", json={}).json()["secret"]
    body = {"registration_token": reg, "name": "r1", "info": {"capacity": CAPACITY}}
    registered = httpx.post(f"{url}/api/v1/runners/register", json=body).json()
    token = registered["token"]
    return registered["runner"]["id"], httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def report(runner: httpx.Client, env: dict[str, Any], phase: str) -> httpx.Response:
    body = {"observed_spec_version": env["spec"]["spec_version"], "phase": phase}
    return runner.put(f"/api/v1/environments/{env['metadata']['id']}/status", json=body)


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "database_unavailable"
    assert "database is unreachable" in error["message"] and "Retry" in error["message"]
    assert r.headers["Retry-After"]


@pytest.mark.slow
def test_a_database_outage_pauses_the_plane_and_it_resumes_by_itself(tmp_path: Path) -> None:
    with (
        running_cluster() as cluster,
        live_server(tmp_path / "plane", "--database", cluster.url()) as server,
    ):
        admin = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            timeout=30,
        )
        with contextlib.closing(admin):
            runner_id, runner = register(server.url, admin)
            with contextlib.closing(runner):
                outage(server, cluster, admin, runner_id, runner)


def outage(
    server: LiveServer,
    cluster: Cluster,
    admin: httpx.Client,
    runner_id: str,
    runner: httpx.Client,
) -> None:
    assert runner.post(f"/api/v1/runners/{runner_id}/heartbeat", json=HEARTBEAT).status_code == 200
    env = admin.post("/api/v1/environments", json={"name": "e1"}).json()
    assert env["status"]["runner_id"] == runner_id
    env = report(runner, env, "creating").json()
    version_before = env["status"]["status_version"]

    cluster.stop("fast")
    deadline = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < deadline:
        assert_unavailable(admin.get("/api/v1/environments"))
        assert_unavailable(admin.post("/api/v1/environments", json={"name": "lost"}))
        assert_unavailable(report(runner, env, "running"))  # the runner keeps retrying
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        time.sleep(1)
    cluster.start()

    resumed = time.monotonic() + 15
    while (r := admin.get("/api/v1/environments")).status_code != 200:
        assert time.monotonic() < resumed, f"the plane did not resume: {r.text}"
        time.sleep(0.2)
    r = report(runner, env, "running")
    assert r.status_code == 200, r.text
    after = r.json()["status"]
    assert (after["phase"], after["status_version"]) == ("running", version_before + 1)
    listed = admin.get("/api/v1/environments").json()["items"]
    names = [e["metadata"]["name"] for e in listed]
    assert names == ["e1"]  # the create refused during the outage left nothing behind
    assert runner.post(f"/api/v1/runners/{runner_id}/heartbeat", json=HEARTBEAT).status_code == 200
    second = admin.post("/api/v1/environments", json={"name": "e2"})
    assert second.status_code == 201 and second.json()["status"]["runner_id"] == runner_id

    log = (server.data_dir / "server.log").read_text()
    assert "scheduler: paused, the database is unreachable" in log
    deadline = time.monotonic() + 15
    while "scheduler: resumed, the database is back" not in log:
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.2)
        log = (server.data_dir / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
