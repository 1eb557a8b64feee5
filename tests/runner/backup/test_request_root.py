"""``roost env backup ID`` on a running environment: backed up at once, not at the next
periodic backup (root)."""

from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.runner.backup.support import WS, create, sh, wait_condition
from tests.runner.conftest import shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import free_subnet, real_runner

pytestmark = pytest.mark.root


async def test_a_running_environment_is_backed_up_when_asked(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    async with real_runner(plane, tmp_path, shared_image_store(), subnet=free_subnet(217)):
        env_id = await create(plane)
        await sh(plane, env_id, f"echo asked > {WS}/note")
        asked = await plane.admin.post(f"/api/v1/environments/{env_id}/backup")
        assert asked.status_code == 200, asked.text
        cond = await wait_condition(plane, env_id, "backup", "ready", timeout=30)
        assert "backed up while running" in cond["message"]
        listed = (await plane.admin.get(f"/api/v1/environments/{env_id}/backups")).json()
        assert [b["kind"] for b in listed] == ["periodic"]
