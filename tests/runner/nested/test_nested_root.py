"""Docker and Podman inside a nested-mode environment (real crun, real dockerd; root).

No registry is reachable from inside, so each test makes a tiny image inside the environment
from the image's busybox-static (``docker import``) -- what a user without network would do.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roost.runner.access.dialer import NetnsDialer
from roost.runner.images import Image
from tests.runner.conftest import shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, real_runner, run_in, wait_phase

pytestmark = pytest.mark.root
TINY = (
    "set -e; rm -rf /tmp/tiny; mkdir -p /tmp/tiny/bin /tmp/tiny/www; "
    "cp /bin/busybox /tmp/tiny/bin/; "
    "for a in sh echo cat sleep wget httpd nc seq; do ln -s busybox /tmp/tiny/bin/$a; done; "
    "echo hello-from-web > /tmp/tiny/www/index.html; "
)
IMPORT = TINY + "tar -C /tmp/tiny -c . | docker import - tiny >/dev/null"
WEB = "httpd -f -p 8080 -h /www"


@pytest.fixture
async def runner(
    plane: PlaneHarness, tmp_path: Path, engine_image: Image
) -> AsyncIterator[RealRunner]:
    async with real_runner(plane, tmp_path, shared_image_store()) as r:
        yield r


async def nested_env(plane: PlaneHarness, image: Image, **resources: Any) -> str:
    r = await plane.admin.post(
        "/api/v1/classes",
        json={"name": "engines", "resources": {"nested_containers": True, **resources}},
    )
    assert r.status_code == 201, r.text
    spec = {"image": image.ref, "class": "engines", "nested_containers": True}
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    doc = await wait_phase(plane, env_id, "running", timeout=120)
    containers = doc["status"]["conditions"]["containers"]
    assert containers["phase"] == "ready", containers
    return env_id


async def sh(plane: PlaneHarness, env_id: str, script: str) -> tuple[int, str, str]:
    return await run_in(plane, plane.admin, env_id, "sh", "-c", script)


async def ok(plane: PlaneHarness, env_id: str, script: str) -> str:
    code, out, err = await sh(plane, env_id, script)
    assert code == 0, f"{script!r} exited {code}: {out}\n{err}"
    return out


async def test_docker_run_build_compose_ports_and_podman(
    plane: PlaneHarness, runner: RealRunner, engine_image: Image
) -> None:
    env_id = await nested_env(plane, engine_image)
    await ok(plane, env_id, IMPORT)
    assert (await ok(plane, env_id, "docker run --rm tiny echo hi")).strip() == "hi"
    build = (
        "mkdir -p /tmp/ctx && printf 'FROM tiny\\nRUN echo built > /built\\n' > "
        "/tmp/ctx/Dockerfile && docker build -q -t built /tmp/ctx >/dev/null && "
        "docker run --rm built cat /built"
    )
    assert (await ok(plane, env_id, build)).strip() == "built"
    compose = (
        "mkdir -p /tmp/app && cd /tmp/app && printf '%s' 'services:\n"
        f"  web:\n    image: tiny\n    command: {WEB}\n"
        "  client:\n    image: tiny\n    depends_on: [web]\n"
        "    command: sh -c \"for i in $$(seq 50); do wget -q -O - http://web:8080/ && exit 0; "
        "sleep 0.2; done; exit 1\"\n' > docker-compose.yml && "
        "docker-compose up --abort-on-container-exit --exit-code-from client 2>&1 && "
        "docker-compose down >/dev/null 2>&1"
    )
    assert "hello-from-web" in await ok(plane, env_id, compose)
    await ok(plane, env_id, f"docker run -d --name pub -p 8081:8080 tiny {WEB} >/dev/null")
    inside = "for i in $(seq 50); do curl -sf http://127.0.0.1:8081/ && exit 0; sleep 0.1; done"
    assert "hello-from-web" in await ok(plane, env_id, inside)
    assert "hello-from-web" in await _through_the_dialer(runner, env_id, 8081)
    podman = (
        TINY + "tar -C /tmp/tiny -c . | podman import - tiny >/dev/null && "
        "podman run --rm --network none tiny echo from-podman"
    )
    assert "from-podman" in await ok(plane, env_id, podman)


async def _through_the_dialer(runner: RealRunner, env_id: str, port: int) -> str:
    """As Roost's port proxy and ``ssh -L`` reach a port: a socket made in the environment."""
    dialer = NetnsDialer(runner.assembly.network.config.netns_path)
    sock = await dialer.connect(env_id, "127.0.0.1", port)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(sock, b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := await loop.sock_recv(sock, 4096):
            data += chunk
        return data.decode()
    finally:
        sock.close()
