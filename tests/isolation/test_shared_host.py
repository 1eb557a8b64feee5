"""Two runners on one host share the uid-range directory (the default): their environments
never run as the same host uids, even after a runner releases an environment it does not own
(root)."""

import asyncio
from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.isolation.harness import create_env, isolation_runner
from tests.isolation.hostids import ranges_by_namespace, shared_host_uids
from tests.support.plane import PlaneHarness

pytestmark = pytest.mark.root


async def test_no_two_environments_on_a_host_share_a_host_uid(
    plane: PlaneHarness, tmp_path: Path, debian_base: Image
) -> None:
    async with (
        isolation_runner(plane, tmp_path, "container", name="iso-a") as a,
        isolation_runner(plane, tmp_path, "container", name="iso-b") as b,
    ):
        assert a.config.ids_dir == b.config.ids_dir  # one host, one directory
        on_b = await create_env(plane, plane.admin, debian_base.ref, "container", runner="iso-b")
        # A late pass on a runner that does not own the environment (it moved away) releases
        # it: regression, this freed the range the other runner runs it in.
        await asyncio.to_thread(a.assembly.ids.release, on_b)
        on_a = await create_env(plane, plane.admin, debian_base.ref, "container", runner="iso-a")
        parents = (a.config.cgroup_parent, b.config.cgroup_parent)
        assert len(ranges_by_namespace(parents)) >= 2  # the check sees both environments
        problems = shared_host_uids(*parents)
        assert a.assembly.ids.find(on_a) != b.assembly.ids.find(on_b)
        assert not problems, "\n".join(problems)
