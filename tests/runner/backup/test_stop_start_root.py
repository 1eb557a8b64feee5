"""Stop backs the work up and hands the environment back; start restores it (root)."""

from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.runner.backup.support import (
    WS,
    create,
    get,
    sh,
    start,
    stop_and_release,
)
from tests.runner.conftest import shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import real_runner

pytestmark = pytest.mark.root


async def test_a_file_written_inside_survives_stop_and_start(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    async with real_runner(plane, tmp_path, shared_image_store()) as runner:
        env_id = await create(plane)
        await sh(plane, env_id, f"cd {WS} && echo kept > note && mkdir -p src && "
                                "echo 'print(1)' > src/main.py")  # fmt: skip
        doc = await stop_and_release(plane, env_id, runner)
        backup = doc["status"]["conditions"]["backup"]
        assert backup["phase"] == "ready", backup
        assert len(backup["details"]["snapshot"]) == 64
        assert backup["details"]["size_bytes"] > 0 and backup["details"]["duration_seconds"] > 0
        assert "verified" in backup["message"]
        assert not (runner.config.data_dir / "workspaces" / env_id).exists()
        assert runner.assembly.ids.find(env_id) is None

        await start(plane, env_id)
        assert await sh(plane, env_id, f"cd {WS} && cat note src/main.py") == ("kept\nprint(1)\n")
        restored = (await get(plane, env_id))["status"]["conditions"]["backup"]
        assert restored["message"].startswith("restored backup"), restored
        listed = await plane.admin.get(f"/api/v1/environments/{env_id}/backups")
        assert [b["id"] for b in listed.json()] == [backup["details"]["snapshot"]]
