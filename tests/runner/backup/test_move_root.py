"""An environment stopped on runner A starts on runner B with its files, owners and modes --
the workspace and the writable layer, restored into B's own id range (root)."""

import os
from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.runner.backup.support import WS, create, get, sh, start, stop_and_release
from tests.runner.conftest import shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import free_subnet, real_runner

pytestmark = pytest.mark.root

MAKE = f"""
set -e
cd {WS}
echo data > owned && chown 1000:1000 owned && chmod 640 owned
ln owned hard && ln -s owned sym
mkdir shared && chown 1000:100 shared && chmod 2775 shared
mkdir -p /opt/pkg && echo pkg > /opt/pkg/file && chown -R 1000:1000 /opt/pkg
mkdir -p /usr/local/bin && cp /bin/busybox /usr/local/bin/tool && chmod 4755 /usr/local/bin/tool
rm /etc/group
rm -rf /var/www && mkdir /var/www && echo new > /var/www/index.html
"""
LOOK = f"""
cd {WS} && stat -c '%n %u:%g %a %h %F' owned hard sym shared
stat -c '%n %u:%g %a %F' /opt/pkg /opt/pkg/file /usr/local/bin/tool
readlink sym; cat owned /opt/pkg/file; ls -A /var/www
test -e /etc/group && echo group-exists || echo group-deleted
"""


async def test_stopped_on_a_starts_on_b_with_files_owners_and_modes(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    r = await plane.admin.post(
        "/api/v1/classes",
        json={"name": "keep", "resources": {"cpu": 1, "keep_writable_layer": True}},
    )
    assert r.status_code == 201, r.text
    store = shared_image_store()
    async with (
        real_runner(plane, tmp_path, store, name="runner-a", subnet=free_subnet(217)) as a,
        real_runner(plane, tmp_path, store, name="runner-b", subnet=free_subnet(217)) as b,
    ):
        env_id = await create(plane, **{"class": "keep", "runner": "runner-a"})
        await sh(plane, env_id, MAKE)
        before = await sh(plane, env_id, LOOK)
        assert "group-deleted" in before and "4755" in before, before
        base_a = a.assembly.ids.find(env_id)

        doc = await stop_and_release(plane, env_id, a)
        assert doc["status"]["conditions"]["backup"]["details"]["writable_layer"] is True
        assert a.assembly.ids.find(env_id) is None
        a.assembly.ids.allocate("someone-else")  # B must restore into a different range

        doc = await start(plane, env_id, runner="runner-b")
        assert doc["status"]["runner_id"] == b.id
        assert await sh(plane, env_id, LOOK) == before
        base_b = b.assembly.ids.find(env_id)
        assert base_b is not None and base_b != base_a
        upper = b.config.data_dir / "envs" / env_id / "upper"
        assert os.stat(upper / "opt/pkg/file").st_uid == base_b + 1000
        assert os.stat(upper / "usr/local/bin/tool").st_mode & 0o7777 == 0o4755
        restored = (await get(plane, env_id))["status"]["conditions"]["backup"]
        assert restored["phase"] == "ready" and "restored" in restored["message"]
