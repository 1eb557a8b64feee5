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
    "for a in sh echo cat sleep wget httpd nc seq printf grep; do "
    "ln -s busybox /tmp/tiny/bin/$a; done; "
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
    await wait_phase(plane, env_id, "running", timeout=120)
    containers = await engine_settled(plane, env_id)
    assert containers["phase"] == "ready", containers
    return env_id


async def engine_settled(plane: PlaneHarness, env_id: str) -> dict[str, Any]:
    """The ``containers`` condition once the engine answered (it starts in the background)."""
    for _ in range(600):
        doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        containers: dict[str, Any] = doc["status"]["conditions"].get("containers", {})
        if containers.get("phase") in ("ready", "failed"):
            return containers
        await asyncio.sleep(0.1)
    raise AssertionError(f"the engine did not settle: {doc['status']}")


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
        '    command: sh -c "for i in $$(seq 50); do wget -q -O - http://web:8080/ && exit 0; '
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


async def restart(plane: PlaneHarness, env_id: str) -> dict[str, Any]:
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    await wait_phase(plane, env_id, "stopped", timeout=120)
    await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    return await wait_phase(plane, env_id, "running", timeout=120)


async def test_images_and_volumes_survive_a_stop_and_a_broken_engine_leaves_it_running(
    plane: PlaneHarness, runner: RealRunner, engine_image: Image
) -> None:
    env_id = await nested_env(plane, engine_image, keep_writable_layer=True)
    await ok(plane, env_id, IMPORT + " && docker volume create vol >/dev/null && "
             "docker run --rm -v vol:/data tiny sh -c 'echo kept > /data/f'")  # fmt: skip
    await restart(plane, env_id)
    assert (await engine_settled(plane, env_id))["phase"] == "ready"
    assert (await ok(plane, env_id, "docker run --rm -v vol:/data tiny cat /data/f")) == "kept\n"
    # A host without what the engine needs: the daemon fails, the environment runs on and says why
    broken = "#!/bin/sh\necho 'failed to mount overlay: operation not permitted' >&2\nexit 1\n"
    script = f"cat > /usr/local/sbin/dockerd <<'EOF'\n{broken}EOF\nchmod +x /usr/local/sbin/dockerd"
    await ok(plane, env_id, script)
    await restart(plane, env_id)
    condition = await engine_settled(plane, env_id)
    assert condition["phase"] == "failed"
    assert "dockerd did not start" in condition["message"]
    assert "failed to mount overlay" in condition["message"]
    assert (await ok(plane, env_id, "echo alive")) == "alive\n"


async def test_the_environment_limits_hold_for_nested_containers(
    plane: PlaneHarness, runner: RealRunner, engine_image: Image
) -> None:
    env_id = await nested_env(plane, engine_image, memory_mib=512, pids=256)
    await ok(plane, env_id, IMPORT)
    code, _, _ = await sh(
        plane, env_id, "docker run --name hog tiny sh -c 'x=a; while true; do x=$x$x; done'"
    )
    assert code == 137  # killed by the OOM killer of the environment's memory cgroup
    oom = "docker inspect -f '{{.State.OOMKilled}}' hog && docker rm hog >/dev/null"
    assert (await ok(plane, env_id, oom)) == "true\n"
    stats = await runner.assembly.driver.stats(env_id)
    assert stats.memory_limit_bytes == 512 << 20
    bomb = "for i in $(seq 400); do sleep 3 & done 2>/dev/null; sleep 1; echo done"
    await sh(plane, env_id, f"docker run --rm tiny sh -c '{bomb}'")
    stats = await runner.assembly.driver.stats(env_id)
    assert stats.pids <= 256
    assert (await ok(plane, env_id, "docker run --rm tiny echo still-up")) == "still-up\n"


async def test_the_egress_policy_holds_for_the_environment_and_its_containers(
    plane: PlaneHarness, runner: RealRunner, engine_image: Image
) -> None:
    env_id = await nested_env(plane, engine_image)
    await ok(plane, env_id, IMPORT)
    # the tiny image's static busybox has no resolver (no NSS): the environment resolves
    ip = (await ok(plane, env_id, "getent ahostsv4 deb.debian.org | head -n 1")).split()[0]
    fetch = f"printf 'HEAD / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip} 80 | grep -q HTTP"
    reach = f'docker run --rm tiny sh -c "{fetch} && echo reached || echo blocked"'
    for _ in range(5):  # the control: NAT works (a busy mirror may miss one 5 s window)
        if (await ok(plane, env_id, reach)).strip() == "reached":
            break
    else:
        raise AssertionError("a nested container never reached the mirror without a policy")
    r = await plane.admin.patch(
        "/api/v1/organizations/default", json={"policy": {"egress_allow": ["192.0.2.0/24"]}}
    )
    assert r.status_code == 200, r.text
    for _ in range(50):  # the runner applies the new policy live
        if (await ok(plane, env_id, reach)).strip() == "blocked":
            break
        await asyncio.sleep(0.2)
    assert (await ok(plane, env_id, reach)).strip() == "blocked"
    direct = "curl -s -m 5 -o /dev/null http://deb.debian.org/ && echo reached || echo blocked"
    assert (await ok(plane, env_id, direct)).strip() == "blocked"
