"""Done when: a devcontainer.json with a feature of the docker-in-docker shape (here a local
one that installs Debian's docker.io) comes up with one ``env create`` in a class that allows
nested containers, and ``docker compose up`` works inside (root; the build uses apt)."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.runner.conftest import shared_image_store
from tests.runner.devcontainer.support import feature_files
from tests.runner.nested.test_nested_root import IMPORT, WEB, engine_settled, ok
from tests.runner.test_content_root import make_repo as git_repo
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, real_runner, wait_phase

pytestmark = pytest.mark.root
INSTALL = (
    "export DEBIAN_FRONTEND=noninteractive\n"
    "apt-get update -qq\n"
    "apt-get install -y -qq --no-install-recommends docker.io docker-compose iptables "
    "busybox-static >/dev/null\n"
    "printf '#!/bin/sh\\nexec \"$@\"\\n' > /usr/local/share/docker-init.sh\n"
    "chmod +x /usr/local/share/docker-init.sh\n"
)
COMPOSE = (
    "mkdir -p /tmp/app && cd /tmp/app && printf '%s' 'services:\n"
    f"  web:\n    image: tiny\n    command: {WEB}\n"
    "  client:\n    image: tiny\n    depends_on: [web]\n"
    '    command: sh -c "for i in $$(seq 50); do wget -q -O - http://web:8080/ && exit 0; '
    "sleep 0.2; done; exit 1\"\n' > docker-compose.yml && "
    "docker-compose up --abort-on-container-exit --exit-code-from client 2>&1"
)


@pytest.fixture
async def runner(
    plane: PlaneHarness, tmp_path: Path, debian_base: Image
) -> AsyncIterator[RealRunner]:
    async with real_runner(plane, tmp_path, shared_image_store(), allow_local_repos=True) as r:
        yield r


def dind_repo(root: Path, image: str) -> Path:
    feature = feature_files(
        "docker-in-docker", INSTALL, privileged=True, init=True,
        entrypoint="/usr/local/share/docker-init.sh",
        mounts=[{"source": "dind-var-lib-docker-${devcontainerId}", "target": "/var/lib/docker",
                 "type": "volume"}],
    )  # fmt: skip
    config = {"image": image, "features": {"./docker-in-docker": {}}}
    files = {
        ".devcontainer/devcontainer.json": json.dumps(config),
        **{f".devcontainer/{k}": v for k, v in feature.items()},
    }
    return git_repo(root, files)


async def test_the_docker_in_docker_feature_comes_up_and_compose_works(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path, debian_base: Image
) -> None:
    r = await plane.admin.post(
        "/api/v1/classes", json={"name": "engines", "resources": {"nested_containers": True}}
    )
    assert r.status_code == 201, r.text
    spec = {
        "class": "engines",
        "content": {"repo_url": str(dind_repo(tmp_path / "src", debian_base.ref))},
    }
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    await wait_phase(plane, env_id, "running", timeout=600)
    assert (await engine_settled(plane, env_id))["phase"] == "ready"
    await ok(plane, env_id, IMPORT)
    assert "hello-from-web" in await ok(plane, env_id, COMPOSE)


async def test_the_feature_is_refused_by_name_in_a_class_without_nested_containers(
    plane: PlaneHarness, runner: RealRunner, tmp_path: Path, debian_base: Image
) -> None:
    spec = {"content": {"repo_url": str(dind_repo(tmp_path / "src", debian_base.ref))}}
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    env_id = str(r.json()["metadata"]["id"])
    failed = await wait_phase(plane, env_id, "failed", timeout=120)
    message = failed["status"]["message"]
    assert "feature ./docker-in-docker asks for nested containers" in message
    assert "class 'default' does not allow (its policy nested_containers is off" in message
