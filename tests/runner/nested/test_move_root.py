"""A nested-mode environment stopped on runner A starts on runner B with the images and volumes
its engine stored (backed up with the writable layer; root)."""

from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.runner.backup.support import create, get, sh, start, stop_and_release
from tests.runner.conftest import shared_image_store
from tests.runner.nested.test_nested_root import IMPORT, engine_settled
from tests.support.plane import PlaneHarness
from tests.support.runner import free_subnet, real_runner

pytestmark = pytest.mark.root


async def test_engine_images_and_volumes_move_to_another_runner(
    plane: PlaneHarness, tmp_path: Path, engine_image: Image
) -> None:
    resources = {"keep_writable_layer": True, "nested_containers": True}
    r = await plane.admin.post("/api/v1/classes", json={"name": "keep", "resources": resources})
    assert r.status_code == 201, r.text
    store = shared_image_store()
    async with (
        real_runner(plane, tmp_path, store, name="runner-a", subnet=free_subnet(217)),
        real_runner(plane, tmp_path, store, name="runner-b", subnet=free_subnet(217)) as b,
    ):
        spec = {"class": "keep", "runner": "runner-a", "image": engine_image.ref,
                "nested_containers": True}  # fmt: skip
        env_id = await create(plane, **spec)
        assert (await engine_settled(plane, env_id))["phase"] == "ready"
        await sh(plane, env_id, IMPORT + " && docker volume create vol >/dev/null && "
                 "docker run --rm -v vol:/data tiny sh -c 'echo moved > /data/f'")  # fmt: skip
        doc = await stop_and_release(plane, env_id)
        assert doc["status"]["conditions"]["backup"]["details"]["writable_layer"] is True
        doc = await start(plane, env_id, runner="runner-b")
        assert doc["status"]["runner_id"] == b.id
        assert (await engine_settled(plane, env_id))["phase"] == "ready"
        out = await sh(plane, env_id, "docker run --rm -v vol:/data tiny cat /data/f")
        assert out == "moved\n"
        assert (await get(plane, env_id))["status"]["conditions"]["backup"]["phase"] == "ready"
