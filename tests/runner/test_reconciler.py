"""The reconciler against the real plane (in-process) with fake driver, network and images."""

from pathlib import Path

import httpx
import pytest

from roost.core.errors import PermanentError, TemporaryError
from roost.core.schemas.environments import Environment
from roost.runner import images
from roost.runner.client import PlaneClient
from roost.runner.idalloc import IdAllocator
from roost.runner.network import FakeNetwork
from roost.runner.reconciler import Parts, Reconciler
from roost.runner.reporter import Reporter
from roost.runner.runtime.fake import FakeDriver
from roost.runner.state import StateStore
from roost.runner.steps import Step, StepContext
from tests.support.fake_images import FakeImages
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


class Setup:
    def __init__(self, plane: PlaneHarness, runner: FakeRunner, tmp: Path) -> None:
        self.plane = plane
        self.runner = runner
        self.client = PlaneClient("http://plane", runner.token, httpx_transport(plane))
        self.driver = FakeDriver()
        self.network = FakeNetwork()
        self.images = FakeImages(tmp, local=("base:1",), remote=("remote:1",))
        self.parts = Parts(
            driver=self.driver, network=self.network, images=self.images,
            ids=IdAllocator(tmp / "ids"), state=StateStore(tmp / "state"),
            reporter=Reporter(self.client), workspaces=tmp / "ws", default_image="base:1",
        )  # fmt: skip
        self.reconciler = Reconciler(self.parts)

    async def env(self, env_id: str) -> Environment:
        got = await self.client.get_environment(env_id)
        assert got is not None
        return got

    async def create(self, **spec: object) -> str:
        r = await self.plane.admin.post("/api/v1/environments", json={"spec": spec})
        assert r.status_code == 201, r.text
        await self.plane.schedule()
        return str(r.json()["metadata"]["id"])

    async def step(self, env_id: str) -> float | None:
        return await self.reconciler.reconcile(env_id, await self.env(env_id))


def httpx_transport(plane: PlaneHarness) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=plane.app)


@pytest.fixture
async def setup(plane: PlaneHarness, tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = await FakeRunner(plane).register()
    s = Setup(plane, runner, tmp_path)
    yield s
    await s.client.close()


async def test_create_run_stop_start_delete(setup: Setup) -> None:
    env_id = await setup.create()
    assert await setup.step(env_id) is None
    env = await setup.env(env_id)
    assert env.status.phase == "running"
    assert env.status.observed_spec_version == env.spec.spec_version
    assert env.status.conditions["machine"].phase == "ready"
    assert setup.driver.states[env_id] == "running"
    spec = setup.driver.specs[env_id]
    assert spec.id_base >= 1 << 24 and spec.netns is not None

    await setup.plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    await setup.step(env_id)
    assert (await setup.env(env_id)).status.phase == "stopped"
    assert setup.driver.states[env_id] == "prepared"
    assert setup.network.list() == []

    await setup.plane.admin.post(f"/api/v1/environments/{env_id}/start")
    await setup.step(env_id)
    assert (await setup.env(env_id)).status.phase == "running"
    assert setup.driver.specs[env_id].id_base == spec.id_base  # the range is kept for life

    await setup.plane.admin.delete(f"/api/v1/environments/{env_id}")
    await setup.step(env_id)
    assert (await setup.env(env_id)).status.phase == "deleted"
    assert env_id not in setup.driver.states
    assert setup.parts.state.load(env_id) is None
    assert setup.parts.ids.find(env_id) is None


async def test_a_second_pass_changes_nothing(setup: Setup) -> None:
    env_id = await setup.create()
    await setup.step(env_id)
    before = (await setup.env(env_id)).status.status_version
    calls = len(setup.driver.calls)
    await setup.step(env_id)
    assert (await setup.env(env_id)).status.status_version == before
    assert len(setup.driver.calls) == calls  # running: nothing restarted


async def test_missing_image_fails_with_a_message_and_heals(setup: Setup) -> None:
    env_id = await setup.create(image="nowhere:1")
    assert await setup.step(env_id) == 60.0
    env = await setup.env(env_id)
    assert env.status.phase == "failed"
    assert "nowhere:1" in env.status.message
    setup.images.remote.add("nowhere:1")  # the cause is fixed
    await setup.step(env_id)
    assert (await setup.env(env_id)).status.phase == "running"


async def test_default_image_not_built_says_how(setup: Setup) -> None:
    setup.parts.default_image = images.DEFAULT_IMAGE
    env_id = await setup.create()
    await setup.step(env_id)
    env = await setup.env(env_id)
    assert env.status.phase == "failed"
    assert "roost image build-base" in env.status.message


async def test_temporary_errors_retry_with_backoff(setup: Setup) -> None:
    async def down(ref: str) -> object:
        raise TemporaryError("registry r is unreachable", delay=2.0)

    setup.images.pull = down  # type: ignore[method-assign]
    env_id = await setup.create(image="remote:1")
    assert await setup.step(env_id) == 2.0
    env = await setup.env(env_id)
    assert env.status.phase == "creating"
    assert "unreachable (retrying)" in env.status.message


async def test_runtime_failure_is_reported_and_retried(setup: Setup) -> None:
    env_id = await setup.create()
    setup.driver.fail_next["start"] = "crun: no space left on device"
    assert await setup.step(env_id) == 60.0
    env = await setup.env(env_id)
    assert env.status.phase == "failed"
    assert "no space left" in env.status.conditions["machine"].message
    await setup.step(env_id)
    assert (await setup.env(env_id)).status.phase == "running"


async def test_exhausted_uid_ranges_say_why_in_the_status(setup: Setup, tmp_path: Path) -> None:
    """Regression: RangesExhausted escaped the reconciler; the runner retried every few seconds
    while the status never said why."""
    setup.parts.ids = IdAllocator(tmp_path / "few-ids", slots=1)
    first, second = await setup.create(), await setup.create()
    await setup.step(first)
    assert await setup.step(second) == 60.0
    env = await setup.env(second)
    assert env.status.phase == "failed"
    assert "all 1 uid ranges of this host are in use" in env.status.message
    assert "delete environments" in env.status.conditions["machine"].message


async def test_an_unexpected_error_is_reported_not_lost(setup: Setup) -> None:
    env_id = await setup.create()

    async def broken(spec: object) -> None:
        raise KeyError("a bug")

    setup.driver.start = broken  # type: ignore[method-assign,assignment]
    assert await setup.step(env_id) == 60.0
    env = await setup.env(env_id)
    assert env.status.phase == "failed"
    assert "internal error" in env.status.message and "runner's log" in env.status.message


async def test_class_change_applies_live(setup: Setup) -> None:
    env_id = await setup.create()
    await setup.step(env_id)
    env = await setup.env(env_id)
    body = {"spec": env.spec.model_dump(mode="json", by_alias=True) | {"class": "large"}}
    r = await setup.plane.admin.put(f"/api/v1/environments/{env_id}/spec", json=body)
    assert r.status_code == 200, r.text
    await setup.step(env_id)
    assert setup.driver.resources[env_id].memory_mib == 8192
    assert ("start", env_id) in setup.driver.calls
    assert [c for c in setup.driver.calls if c == ("start", env_id)] == [("start", env_id)]
    env = await setup.env(env_id)
    assert env.status.phase == "running"
    assert env.status.observed_spec_version == env.spec.spec_version


async def test_vanished_environment_is_cleaned_up(setup: Setup) -> None:
    env_id = await setup.create()
    await setup.step(env_id)
    await setup.reconciler.reconcile(env_id, None)
    assert env_id not in setup.driver.states
    assert setup.network.list() == []


async def test_settled_is_true_only_when_plane_and_host_agree(setup: Setup) -> None:
    env_id = await setup.create()
    assert not await setup.reconciler.settled(await setup.env(env_id))  # not started yet
    await setup.step(env_id)
    assert await setup.reconciler.settled(await setup.env(env_id))
    setup.driver.states[env_id] = "prepared"  # the container died behind our back
    assert not await setup.reconciler.settled(await setup.env(env_id))
    await setup.step(env_id)  # the next pass repairs it
    assert setup.driver.states[env_id] == "running"
    assert await setup.reconciler.settled(await setup.env(env_id))


async def test_failure_messages_show_repository_paths_not_the_runners(setup: Setup) -> None:
    class BadConfig(Step):
        name = "bad"

        async def before_start(self, ctx: StepContext) -> None:
            where = ctx.workspace / ".devcontainer" / "devcontainer.json"
            raise PermanentError(f"{where}:3: Expecting ',' delimiter (column 5)")

    setup.parts.steps = [BadConfig()]
    env_id = await setup.create()
    await setup.step(env_id)
    env = await setup.env(env_id)
    assert env.status.phase == "failed"
    assert (
        env.status.message
        == ".devcontainer/devcontainer.json:3: Expecting ',' delimiter (column 5)"
    )
