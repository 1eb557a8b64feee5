"""The boundary of a nested-containers environment, and of a Docker container inside it (root).

The same probe as ``test_boundary.py`` runs (a) in a nested-mode environment, as root and as the
remote user, and (b) as root in a container that Docker started inside that environment. What
nested mode changes on purpose is in ``harness.ADAPTED["nested"]`` / ``["nested-docker"]``, each
with the reason (``docs/security.md`` has them too); everything else must hold as for any
environment: no host process, file, device, cgroup, network or other environment reachable.
On the host: every process of the environment -- its nested containers' too -- runs in the
environment's own id range.
"""

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from roost.runner.idalloc import RANGE_SIZE
from roost.runner.images import Image
from roost.runner.runtime.container import bundle
from tests.isolation.conftest import host_address
from tests.isolation.harness import (
    CAPABILITY_NUMBERS,
    PROBE,
    ROOT,
    USER,
    create_env,
    exec_as,
    expectations,
    isolation_runner,
    own_address,
    parse,
    run_probe,
    serve_in,
)
from tests.isolation.test_boundary import _tokens, host_id_range
from tests.runner.nested.test_nested_root import engine_settled
from tests.support.engine_image import engine_image
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner

__all__ = ["engine_image"]
pytestmark = pytest.mark.root
UNMASKED = (
    "with SYS_ADMIN in its user namespace root can unmount the masks crun made there (mounts "
    "made inside a user namespace are not locked) or mount a fresh procfs: it then reads "
    "/proc/interrupts, /proc/timer_list, /proc/keys (its own keys), /proc/acpi -- what every "
    "unprivileged host user reads; /sys/firmware and /sys/kernel/debug stay root-only on the host"
)
ADAPTED = {
    "nested": {
        "seccomp.nested_userns": "nested mode allows nested user namespaces (rootless podman, "
        "buildah); each is owned by the environment's user namespace",
        "masked_umount.": UNMASKED,
        "masked.": UNMASKED + " (the user's run follows root's, which unmounted them)",
        "fresh_proc.": UNMASKED,
        "cgroup.readonly": "the environment's own cgroup subtree is delegated: its view's root "
        "is its own cgroup (cgroup namespace), its limit files stay the host's",
        "cgroup.mount_v1": "a cgroup mount in its cgroup namespace shows its own subtree; "
        "release_agent needs CAP_SYS_ADMIN of the host (checked: cgroup.release_agent)",
        "net.raw_sockets": "the network namespace is its own (nested netns): forged packets "
        "stop at the host-owned one, which admits only its address and masquerades",
    },
    "nested-docker": {
        "masked.proc.interrupts": "Docker's default masks leave /proc/interrupts, which every "
        "unprivileged host user reads",
        "processes.own_init": "docker run starts the command as PID 1 (no --init): the "
        "container's own process, not the environment's init",
        "net.raw_sockets": "Docker's default NET_RAW in the container's own namespace; "
        "forged packets stop at the host-owned namespace",
    },
}
"""What nested mode changes on purpose, by check (or check-name prefix); docs/security.md."""


def nested_problems(kind: str, identity: str, failures: dict[str, str]) -> list[str]:
    adapted = ADAPTED[kind]
    return [
        f"[{identity}] {check}: {detail}"
        for check, detail in failures.items()
        if not any(check == k or (k.endswith(".") and check.startswith(k)) for k in adapted)
    ]


# The environment's own root filesystem as a Docker image (python3 for the probe), made inside.
SELF_IMAGE = (
    "tar -C / --one-file-system --exclude=./proc --exclude=./sys --exclude=./dev "
    "--exclude=./var/lib/docker --exclude=./var/lib/containers --exclude=./usr/share/doc "
    "--exclude=./var/cache --exclude=./var/lib/apt -c . 2>/dev/null "
    "| docker import - self >/dev/null"
)
OWN_ADDRESS = (
    "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
    "s.connect((sys.argv[1], 9)); print(s.getsockname()[0])"
)


def nested_config(config: dict[str, Any]) -> dict[str, Any]:
    """The documented boundary of nested mode: its capabilities and devices added."""
    caps = [*bundle.CAPABILITIES, *bundle.NESTED_CAPABILITIES]
    forbidden = [c for c in config["forbidden_capabilities"] if c not in caps]
    return {
        **config,
        "capabilities": {c: CAPABILITY_NUMBERS[c] for c in caps},
        "forbidden_capabilities": {c: CAPABILITY_NUMBERS[c] for c in forbidden},
        "devices": [*config["devices"], *([ma, mi] for _, ma, mi in bundle.NESTED_DEVICES)],
    }


def processes_outside_the_range(runner: RealRunner, env_id: str, base: int) -> list[str]:
    """Every process in the environment's cgroup tree (nested containers included)."""
    root = Path("/sys/fs/cgroup/pids") / runner.config.cgroup_parent / env_id
    if not root.is_dir():
        root = Path("/sys/fs/cgroup") / runner.config.cgroup_parent / env_id  # v2
    problems, seen = [], 0
    for procs in root.rglob("cgroup.procs"):
        for pid in procs.read_text().split():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            seen += 1
            line = next(x for x in status.splitlines() if x.startswith("Uid:"))
            uid = int(line.split()[1])
            if not base <= uid < base + RANGE_SIZE:
                problems.append(f"pid {pid} runs as host uid {uid}, outside {base}+{RANGE_SIZE}")
    return problems if seen else ["no process found in the environment's cgroups"]


async def test_isolation_in_and_under_a_nested_environment(
    plane: PlaneHarness,
    tmp_path: Path,
    engine_image: Image,
    host_listener: int,
    host_marker: str,
) -> None:
    async with isolation_runner(plane, tmp_path, "container") as runner:
        r = await plane.admin.post(
            "/api/v1/classes", json={"name": "nested", "resources": {"nested_containers": True}}
        )
        assert r.status_code == 201, r.text
        gateway = str(runner.assembly.network.config.gateway)
        other_user = await plane.user(f"other-{secrets.token_hex(3)}")
        secret = f"iso-secret-{secrets.token_hex(16)}"
        other = await create_env(plane, other_user, engine_image.ref, "container",
                                 env={"ROOST_ISO_SECRET": secret})  # fmt: skip
        await serve_in(other_user, other, 8080)
        other_ip = await own_address(other_user, other, gateway)
        env_id = await create_env(
            plane, plane.admin, engine_image.ref, "container", "nested", nested_containers=True
        )
        assert (await engine_settled(plane, env_id))["phase"] == "ready"
        code, _, err = await exec_as(
            plane.admin,
            env_id,
            ROOT,
            "sh",
            "-c",
            "id dev >/dev/null 2>&1 || useradd -m -u 1000 dev",  # the base image may have it
        )
        assert code == 0, err
        access_port = int(runner.config.access_listen.rsplit(":", 1)[1])
        unreachable = {
            "host_via_gateway": (gateway, host_listener),
            "host_main_address": (host_address(), host_listener),
            "host_loopback": ("127.0.0.1", host_listener),
            "runner_access_port": (gateway, access_port),
            "runner_access_port_main_address": (host_address(), access_port),
            "cloud_metadata": ("169.254.169.254", 80),
            "other_environment": (other_ip, 8080),
        }
        base_config = expectations(
            "container", runner, own_address=await own_address(plane.admin, env_id, gateway),
            host_marker=host_marker, secrets=[secret, *_tokens(plane, runner)],
            unreachable=unreachable,
        )  # fmt: skip
        problems = []
        for identity in (ROOT, USER):
            report = await run_probe(plane.admin, env_id, identity, nested_config(base_config))
            problems += nested_problems("nested", identity, report.failures())
        # (b) under it: a container Docker started inside the environment
        code, _, err = await exec_as(plane.admin, env_id, ROOT, "sh", "-c", SELF_IMAGE)
        assert code == 0, err
        code, out, err = await exec_as(
            plane.admin, env_id, ROOT, "docker", "run", "--rm", "self", "python3", "-c",
            OWN_ADDRESS, gateway,
        )  # fmt: skip
        assert code == 0, err
        docker_config = {**base_config, "own_address": out.strip()}
        code, out, err = await exec_as(
            plane.admin, env_id, ROOT, "docker", "run", "--rm", "self", "python3", "-c", PROBE,
            json.dumps(docker_config),
        )  # fmt: skip
        report = parse(out)
        assert report.results, f"the probe reported nothing in Docker (exit {code}): {out} {err}"
        problems += nested_problems("nested-docker", "docker", report.failures())
        base, id_problems = await host_id_range(runner, "container", env_id)
        problems += id_problems + processes_outside_the_range(runner, env_id, base)
        code, _, err = await exec_as(
            plane.admin, env_id, ROOT, "docker", "run", "-d", "self", "sleep", "600"
        )
        assert code == 0, err
        problems += processes_outside_the_range(runner, env_id, base)
    assert not problems, "isolation checks failed:\n" + "\n".join(problems)
