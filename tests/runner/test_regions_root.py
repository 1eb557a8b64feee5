"""Three real runners, each in its own network namespace (its own "host"), in two regions:
the plane places environments by region, class and capacity."""

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.hosts import Host, host, lan, start_runner
from tests.support.live import free_port, wait_http

pytestmark = [pytest.mark.root, pytest.mark.slow]
UNREACHABLE_IMAGE = "127.0.0.1:1/none:latest"  # placement is the point; the start fails fast
REGIONS = {"h0": ("eu", 1), "h1": ("eu", 5), "h2": ("us", 5)}  # region, max environments


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with ExitStack() as stack:
        net = stack.enter_context(lan())
        listen = f"{net.plane_address}:{free_port()}"
        with (tmp_path / "plane.log").open("wb") as out:
            plane = subprocess.Popen(
                [sys.executable, "-m", "roost", "server", "--data-dir", str(tmp_path / "plane"),
                 "--listen", listen],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        stack.callback(end, plane)
        url = f"http://{listen}"
        wait_http(f"{url}/healthz", 60)
        token = (tmp_path / "plane" / "admin-token").read_text().strip()
        admin = stack.enter_context(
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        )
        hosts: list[Host] = [stack.enter_context(host(net, i)) for i in range(3)]
        for h in hosts:
            region, most = REGIONS[h.name]
            reg = admin.post("/api/v1/runners/registration-tokens", json={}).json()["secret"]
            start_runner(h, url, reg, tmp_path / "hosts", region, "--max-environments", str(most))
        ids = wait_runners(admin, len(hosts))
        yield admin, ids
        delete_all(admin)


def end(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_runners(admin: httpx.Client, count: int) -> dict[str, str]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        runners = admin.get("/api/v1/runners").json()
        items = runners["items"] if isinstance(runners, dict) else runners
        online = {r["name"]: r["id"] for r in items if r.get("status", r.get("state")) == "online"}
        if len(online) == count:
            return online
        time.sleep(0.5)
    raise AssertionError(f"runners did not come online: {admin.get('/api/v1/runners').text}")


def delete_all(admin: httpx.Client) -> None:
    for env in admin.get("/api/v1/environments").json()["items"]:
        admin.delete(f"/api/v1/environments/{env['metadata']['id']}")
    deadline = time.monotonic() + 30
    while admin.get("/api/v1/environments").json()["items"] and time.monotonic() < deadline:
        time.sleep(0.5)


def create(admin: httpx.Client, **spec: Any) -> dict[str, Any]:
    r = admin.post("/api/v1/environments", json={"spec": {"image": UNREACHABLE_IMAGE, **spec}})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_placement_by_region_class_and_capacity(
    fleet: tuple[httpx.Client, dict[str, str]],
) -> None:
    admin, runners = fleet
    names = {v: k for k, v in runners.items()}
    us = create(admin, region="us", **{"class": "small"})
    assert names[us["status"]["runner_id"]] == "h2"
    eu = [create(admin, region="eu") for _ in range(4)]
    placed = [names.get(e["status"]["runner_id"]) for e in eu]
    assert set(placed) <= {"h0", "h1"} and None not in placed, placed
    assert placed.count("h0") <= 1, f"h0 takes one environment at most: {placed}"

    nowhere = create(admin, region="ap")
    assert nowhere["status"]["runner_id"] is None
    assert "no runner fits" in nowhere["status"]["message"]
    assert "h2: in region us" in nowhere["status"]["message"], nowhere["status"]
    r = admin.post("/api/v1/classes", json={"name": "huge", "resources": {"cpu": 200}})
    assert r.status_code == 201, r.text
    too_big = create(admin, region="us", **{"class": "huge"})
    assert too_big["status"]["runner_id"] is None
    assert "cpu" in too_big["status"]["message"].lower(), too_big["status"]
