"""Backups in S3-compatible object storage: an environment stopped on runner A starts on
runner B with its work, both runners pointed at one bucket (a real S3 API server on loopback,
moto's; restic speaks S3 to it as to any other) (root)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from roost.runner.images import Image
from tests.runner.backup.support import WS, create, get, sh, start, stop_and_release
from tests.runner.conftest import shared_image_store
from tests.support.live import free_port
from tests.support.plane import PlaneHarness
from tests.support.runner import free_subnet, real_runner

pytestmark = pytest.mark.root


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An S3 endpoint on loopback; the runners find its credentials in their environment."""
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    log = (tmp_path / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise AssertionError((tmp_path / "moto.log").read_text()) from None
                time.sleep(0.1)
        for key, value in (("AWS_ACCESS_KEY_ID", "roost-test"), ("AWS_SECRET_ACCESS_KEY", "x"),
                           ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
            monkeypatch.setenv(key, value)
        yield f"s3:{url}/roost-backups"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        log.close()


@pytest.fixture
async def two_runners(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image, s3: str
) -> AsyncIterator[str]:
    store = shared_image_store()
    async with (
        real_runner(
            plane, tmp_path, store, name="s3-a", subnet=free_subnet(217), backup_repository=s3
        ),
        real_runner(
            plane, tmp_path, store, name="s3-b", subnet=free_subnet(217), backup_repository=s3
        ),
    ):
        yield s3


async def test_work_moves_between_runners_through_s3(plane: PlaneHarness, two_runners: str) -> None:
    env_id = await create(plane, runner="s3-a")
    await sh(plane, env_id, f"cd {WS} && echo kept > work.txt && chmod 600 work.txt")
    doc = await stop_and_release(plane, env_id, None)
    backup = doc["status"]["conditions"]["backup"]
    assert backup["phase"] == "ready", backup
    assert doc["status"]["runner_id"] is None  # released: its work is only in the bucket now

    doc = await start(plane, env_id, runner="s3-b")
    assert (await get(plane, env_id))["status"]["conditions"]["backup"]["phase"] == "ready"
    assert await sh(plane, env_id, f"cat {WS}/work.txt; stat -c %a {WS}/work.txt") == "kept\n600\n"
    r = await plane.admin.get(f"/api/v1/environments/{env_id}/backups")
    assert r.status_code == 200, r.text
    locations = {b["location"] for b in r.json()}
    assert locations == {two_runners}, locations  # one place, the same for both runners
