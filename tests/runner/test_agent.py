"""The agent against the real plane (in-process): registration, watch-driven reconciling,
re-adoption after a restart, heartbeats. Runtime, network and images are fakes."""

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from roost.core.errors import RoostError
from roost.runner.agent import Agent
from roost.runner.client import PlaneClient
from roost.runner.config import RunnerConfig
from roost.runner.idalloc import IdAllocator
from roost.runner.network import FakeNetwork
from roost.runner.reconciler import Parts, Reconciler
from roost.runner.reporter import Reporter
from roost.runner.runtime.fake import FakeDriver
from roost.runner.state import StateStore
from tests.support.fake_images import FakeImages
from tests.support.plane import PlaneHarness


class FakeAssembly:
    def __init__(self, tmp: Path, driver: FakeDriver | None = None) -> None:
        self.tmp = tmp
        self.driver = driver or FakeDriver()
        self.network = FakeNetwork()
        self.state = StateStore(tmp / "state")

    async def build(self, client: PlaneClient, runner_id: str) -> Reconciler:
        return Reconciler(
            Parts(
                driver=self.driver, network=self.network,
                images=FakeImages(self.tmp, local=("base:1",)), ids=IdAllocator(self.tmp / "ids"),
                state=self.state, reporter=Reporter(client), workspaces=self.tmp / "ws",
                default_image="base:1",
            )
        )  # fmt: skip

    def runtimes(self) -> list[str]:
        return ["container"]

    def image_refs(self) -> list[str]:
        return ["base:1"]

    def local_ids(self) -> list[str]:
        return self.state.ids()


async def registration_token(plane: PlaneHarness) -> str:
    r = await plane.admin.post("/api/v1/runners/registration-tokens", json={})
    return str(r.json()["secret"])


def config(tmp: Path, token: str | None) -> RunnerConfig:
    return RunnerConfig(
        server_url="http://plane", data_dir=tmp / "runner", name="agent-1",
        registration_token=token, heartbeat_seconds=0.05, resync_seconds=0.5,
    )  # fmt: skip


async def wait_phase(plane: PlaneHarness, env_id: str, phase: str, timeout: float = 10) -> dict:  # type: ignore[type-arg]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await plane.admin.get(f"/api/v1/environments/{env_id}")
        if r.status_code == 200 and r.json()["status"]["phase"] == phase:
            return r.json()  # type: ignore[no-any-return]
        if r.status_code == 404 and phase == "gone":
            return {}
        assert asyncio.get_running_loop().time() < deadline, r.text
        await plane.schedule()
        await plane.lifecycle()
        await asyncio.sleep(0.02)


@pytest.fixture
def transport(plane: PlaneHarness) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=plane.app)


async def test_agent_registers_once_and_keeps_its_credential(
    plane: PlaneHarness, tmp_path: Path, transport: httpx.ASGITransport
) -> None:
    token = await registration_token(plane)
    agent = Agent(config(tmp_path, token), FakeAssembly(tmp_path), transport)
    await agent.connect()
    cred = tmp_path / "runner" / "runner.json"
    assert cred.stat().st_mode & 0o777 == 0o600
    first_id = json.loads(cred.read_text())["runner_id"]
    await agent.stop()
    again = Agent(config(tmp_path, None), FakeAssembly(tmp_path), transport)  # no token needed now
    await again.connect()
    assert again.runner_id == first_id
    await again.stop()


async def test_unregistered_runner_without_token_says_what_to_do(
    tmp_path: Path, transport: httpx.ASGITransport
) -> None:
    agent = Agent(config(tmp_path, None), FakeAssembly(tmp_path), transport)
    with pytest.raises(RoostError, match="roost runner token"):
        await agent.connect()


async def test_watch_drives_environments_and_restart_re_adopts(
    plane: PlaneHarness, tmp_path: Path, transport: httpx.ASGITransport
) -> None:
    assembly = FakeAssembly(tmp_path)
    agent = Agent(config(tmp_path, await registration_token(plane)), assembly, transport)
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.ready.wait(), 10)
    env = (await plane.admin.post("/api/v1/environments", json={"name": "w1"})).json()
    env_id = env["metadata"]["id"]
    await wait_phase(plane, env_id, "running")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    starts = assembly.driver.calls.count(("start", env_id))

    # the runner comes back (same host state): the environment is adopted, not restarted
    agent2 = Agent(config(tmp_path, None), FakeAssembly(tmp_path, assembly.driver), transport)
    task2 = asyncio.create_task(agent2.run())
    await asyncio.wait_for(agent2.ready.wait(), 10)
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    await wait_phase(plane, env_id, "stopped")
    assert assembly.driver.calls.count(("start", env_id)) == starts
    await plane.admin.delete(f"/api/v1/environments/{env_id}")
    await wait_phase(plane, env_id, "gone")
    assert env_id not in assembly.driver.states
    task2.cancel()
    await asyncio.gather(task2, return_exceptions=True)


async def test_heartbeats_keep_the_runner_online(
    plane: PlaneHarness, tmp_path: Path, transport: httpx.ASGITransport
) -> None:
    agent = Agent(
        config(tmp_path, await registration_token(plane)), FakeAssembly(tmp_path), transport
    )
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.ready.wait(), 10)
    runners = (await plane.admin.get("/api/v1/runners")).json()["items"]
    assert runners[0]["state"] == "online"
    assert runners[0]["images"] == ["base:1"]
    assert runners[0]["capacity"]["cpu"] >= 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
