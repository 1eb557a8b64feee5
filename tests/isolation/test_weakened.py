"""The suite can fail: against a deliberately weakened environment it reports the weakening.

The weakening is test-only: ``weakened_bundles`` wraps the container bundle's ``config``
function -- which both runtimes build their bundles from -- for the duration of one test, adding
``CAP_SYS_ADMIN`` to every capability set and dropping the seccomp profile (and crun's
precompiled copy of it). No production code path knows about it: there is no flag, setting or
environment variable that weakens a bundle, only this monkeypatch.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from roost.runner.images import Image
from roost.runner.runtime.container import bundle, seccomp_bpf
from tests.isolation.harness import (
    ROOT,
    RUNTIMES,
    create_env,
    evaluate,
    expectations,
    isolation_runner,
    own_address,
    run_probe,
)
from tests.support.plane import PlaneHarness

pytestmark = pytest.mark.root

MUST_FAIL = {
    "caps.bounding", "caps.effective", "caps.forbidden", "seccomp.mode", "seccomp.nested_userns",
}  # fmt: skip
"""What the weakening must show up as, in every runtime."""


def weaken(config: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def weakened(*args: Any, **kwargs: Any) -> dict[str, Any]:
        doc = config(*args, **kwargs)
        caps = doc["process"]["capabilities"]
        for kind in caps:
            caps[kind] = [*caps[kind], "CAP_SYS_ADMIN"]
        doc["linux"].pop("seccomp", None)
        doc["annotations"].pop(seccomp_bpf.ANNOTATION, None)
        return doc

    return weakened


@pytest.fixture
def weakened_bundles(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to weaken every bundle written from then on (monkeypatch undoes it after the
    test)."""
    return lambda: monkeypatch.setattr(bundle, "config", weaken(bundle.config))


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_a_weakened_bundle_fails_the_suite(
    plane: PlaneHarness,
    tmp_path: Path,
    debian_base: Image,
    runtime: str,
    host_marker: str,
    weakened_bundles: Callable[[], None],
) -> None:
    async with isolation_runner(plane, tmp_path, runtime) as runner:
        gateway = str(runner.assembly.network.config.gateway)
        normal = await create_env(plane, plane.admin, debian_base.ref, runtime)
        weakened_bundles()
        weak = await create_env(plane, plane.admin, debian_base.ref, runtime)
        reports = {}
        for name, env_id in (("normal", normal), ("weakened", weak)):
            config = expectations(
                runtime, runner, own_address=await own_address(plane.admin, env_id, gateway),
                host_marker=host_marker, secrets=[], unreachable={},
            )  # fmt: skip
            reports[name] = await run_probe(plane.admin, env_id, ROOT, config)
    assert not evaluate(runtime, ROOT, reports["normal"])
    problems = evaluate(runtime, ROOT, reports["weakened"])
    failed = {p.split()[1].rstrip(":") for p in problems}
    assert failed >= MUST_FAIL, f"the weakened bundle went unnoticed: {problems}"
    print(f"{runtime}: the weakened bundle fails {len(failed)} checks: {sorted(failed)}")
