from datetime import UTC, datetime

from roost.core.schemas.environments import EnvironmentSpec
from roost.core.schemas.runners import Capacity, Runner
from roost.server.services.placement import Overcommit, place


def runner(name: str, **kw: object) -> Runner:
    base: dict[str, object] = {
        "id": name,
        "name": name,
        "region": "default",
        "state": "online",
        "runtimes": ["container"],
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "capacity": Capacity(cpu=4, memory_mib=8192, disk_gib=100, environments=10),
    }
    return Runner.model_validate(base | kw)


def test_spreads_by_free_cpu() -> None:
    spec = EnvironmentSpec()
    alloc = {"a": Capacity(cpu=6)}
    decision = place(spec, [runner("a"), runner("b")], alloc, Overcommit())
    assert decision.runner is not None and decision.runner.name == "b"


def test_prefers_a_runner_that_has_the_image() -> None:
    spec = EnvironmentSpec(image="debian:12")
    decision = place(spec, [runner("a"), runner("b", images=["debian:12"])], {}, Overcommit())
    assert decision.runner is not None and decision.runner.name == "b"


def test_runtime_must_be_offered() -> None:
    spec = EnvironmentSpec.model_validate({"resources": {"runtime": "sandbox"}})
    decision = place(spec, [runner("a")], {}, Overcommit())
    assert decision.runner is None
    assert "no sandbox runtime" in decision.reason


def test_memory_overcommit_is_a_ratio() -> None:
    spec = EnvironmentSpec.model_validate({"resources": {"memory_mib": 4096}})
    alloc = {"a": Capacity(memory_mib=12288)}
    assert place(spec, [runner("a")], alloc, Overcommit(memory=2.0)).runner is not None
    assert place(spec, [runner("a")], alloc, Overcommit(memory=1.0)).runner is None


def test_offline_runners_never_fit() -> None:
    decision = place(EnvironmentSpec(), [runner("a", state="offline")], {}, Overcommit())
    assert decision.reason == "no runner fits: a: offline"


def test_disk_is_a_limit_overcommitted_against_total_disk() -> None:
    spec = EnvironmentSpec.model_validate({"resources": {"disk_gib": 50}})
    alloc = {"a": Capacity(disk_gib=300)}  # of 100 GiB x 4
    assert place(spec, [runner("a")], alloc, Overcommit(disk=4.0)).runner is not None
    decision = place(spec, [runner("a")], alloc, Overcommit(disk=3.0))
    assert "not enough disk" in decision.reason


def test_disk_is_not_overcommitted_by_default() -> None:
    """A runner reports the disk it can back; promising more lost writes when it filled up."""
    spec = EnvironmentSpec.model_validate({"resources": {"disk_gib": 50}})
    assert place(spec, [runner("a")], {"a": Capacity(disk_gib=50)}, Overcommit()).runner
    decision = place(spec, [runner("a")], {"a": Capacity(disk_gib=60)}, Overcommit())
    assert "not enough disk (40 of 50 GiB free)" in decision.reason
