"""The boundary of every runtime, probed from inside real environments (root).

For each runtime (``container`` on crun, ``sandbox`` on gVisor) one runner, two environments
of two users, and the probe (``probe.py``) run inside the first as root-in-namespace and as the
remote user (uid 1000). The probe reports each check on a line; a failure lists every check
that broke, by name. What is checked outside, on the host: the id maps of the environments'
processes, and who owns the files they write.

Checks a runtime cannot pass as written are listed in ``harness.ADAPTED`` (with what gVisor does
instead) or ``harness.KNOWN_GAPS`` (documented in ``docs/security.md``): never skipped silently.
A known gap that starts passing fails the test, so that the list and the document are corrected.
"""

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from roost.runner.idalloc import RANGE_SIZE, WORKSPACE_ID_BASE
from roost.runner.images import Image
from tests.isolation.conftest import host_address
from tests.isolation.harness import (
    ROOT,
    RUNTIMES,
    USER,
    create_env,
    evaluate,
    exec_as,
    expectations,
    isolation_runner,
    own_address,
    reaches,
    run_probe,
    serve_in,
)
from tests.isolation.hostids import shared_host_uids
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner

pytestmark = pytest.mark.root


def _uid_map(pid: int) -> list[tuple[int, int, int]]:
    lines = Path(f"/proc/{pid}/uid_map").read_text().splitlines()
    return [(int(a), int(b), int(c)) for a, b, c in (line.split() for line in lines)]


def _host_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def _gofer_of(env_id: str) -> int:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"runsc-gofer") and f"/{env_id}\0".encode() in cmdline:
            return int(proc.name)
    raise AssertionError(f"no gofer process for {env_id}")


async def host_id_range(runner: RealRunner, runtime: str, env_id: str) -> tuple[int, list[str]]:
    """The host id that is root in ``env_id``, and what is wrong with how its processes run.

    crun: the environment's init runs as that id, in a user namespace mapping 0..65535 onto it.
    runsc: the gofer (which touches files) runs in exactly that user namespace; the Sentry
    (which runs the environment's code) runs as the host's ``nobody``, mapping nothing else.
    """
    problems = []
    base = runner.assembly.ids.find(env_id)
    assert base is not None
    if runtime == "container":
        pid = (await runner.assembly.driver.inspect(env_id)).pid
        assert pid is not None
        holder = pid
    else:
        assert runner.assembly.sandbox is not None
        sentry = (await runner.assembly.sandbox.inspect(env_id)).pid
        assert sentry is not None
        if (_host_uid(sentry), _uid_map(sentry)) != (65534, [(65534, 65534, 1)]):
            problems.append(f"the Sentry runs as {_host_uid(sentry)} with {_uid_map(sentry)}")
        holder = _gofer_of(env_id)
    if _uid_map(holder) != [(0, base, RANGE_SIZE)] or _host_uid(holder) != base:
        problems.append(f"id map {_uid_map(holder)} (uid {_host_uid(holder)}), want 0 {base} 65536")
    if base < 1 << 24 or base + RANGE_SIZE > WORKSPACE_ID_BASE:
        problems.append(f"range {base} is not a private one")
    return base, problems


async def host_file_owners(
    plane: PlaneHarness, runner: RealRunner, runtime: str, env_id: str, base: int
) -> list[str]:
    """Files root and the user write are unprivileged on the host (never a real host user)."""
    local = runner.assembly.state.load(env_id)
    assert local is not None
    ws = local.workspace_target
    for user, argv in (
        (ROOT, ["touch", f"{ws}/iso-root", "/root/iso-root"]),
        (ROOT, ["chmod", "a+x", ws]),  # the workspace root is root's, 0700
        (ROOT, ["install", "-d", "-o", "1000", "-g", "1000", f"{ws}/dev"]),
        (USER, ["touch", f"{ws}/dev/iso-user"]),
    ):
        code, _, err = await exec_as(plane.admin, env_id, user, *argv)
        assert code == 0, err
    driver = runner.assembly.sandbox if runtime == "sandbox" else runner.assembly.driver
    assert driver is not None
    workspace = runner.config.data_dir / "workspaces" / env_id
    ws_root, ws_user = workspace / "iso-root", workspace / "dev" / "iso-user"
    rootfs_file = driver.env_dir(env_id) / "upper" / "root" / "iso-root"
    found = {
        "workspace file of root": (ws_root.stat().st_uid, WORKSPACE_ID_BASE),
        "workspace file of uid 1000": (ws_user.stat().st_uid, WORKSPACE_ID_BASE + 1000),
        "root filesystem file of root": (rootfs_file.stat().st_uid, base),
    }
    return [f"{what}: {got}, want {want}" for what, (got, want) in found.items() if got != want]


def _tokens(plane: PlaneHarness, runner: RealRunner) -> list[str]:
    admin = plane.admin.headers["Authorization"].split()[1]
    credential = json.loads((runner.config.data_dir / "runner.json").read_text())
    return [admin, *(v for v in credential.values() if isinstance(v, str) and "roost_" in v)]


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_isolation_suite(
    plane: PlaneHarness,
    tmp_path: Path,
    debian_base: Image,
    runtime: str,
    host_listener: int,
    host_marker: str,
) -> None:
    async with isolation_runner(plane, tmp_path, runtime) as runner:
        gateway = str(runner.assembly.network.config.gateway)
        other_user = await plane.user(f"other-{secrets.token_hex(3)}")
        secret = f"iso-secret-{secrets.token_hex(16)}"
        other = await create_env(plane, other_user, debian_base.ref, runtime,
                                 env={"ROOST_ISO_SECRET": secret})  # fmt: skip
        await serve_in(other_user, other, 8080)
        other_ip = await own_address(other_user, other, gateway)
        assert await reaches(other_user, other, other_ip, 8080)  # the listener is there
        env_id = await create_env(plane, plane.admin, debian_base.ref, runtime)
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
        config: dict[str, Any] = expectations(
            runtime, runner,
            own_address=await own_address(plane.admin, env_id, gateway),
            host_marker=host_marker, secrets=[secret, *_tokens(plane, runner)],
            unreachable={
                "host_via_gateway": (gateway, host_listener),
                "host_main_address": (host_address(), host_listener),
                "host_loopback": ("127.0.0.1", host_listener),
                "runner_access_port": (gateway, access_port),
                "runner_access_port_main_address": (host_address(), access_port),
                "cloud_metadata": ("169.254.169.254", 80),
                "other_environment": (other_ip, 8080),
            },
        )  # fmt: skip
        problems = []
        for identity in (ROOT, USER):
            report = await run_probe(plane.admin, env_id, identity, config)
            problems += evaluate(runtime, identity, report)
        base, id_problems = await host_id_range(runner, runtime, env_id)
        other_base, other_problems = await host_id_range(runner, runtime, other)
        problems += id_problems + other_problems
        if abs(base - other_base) < RANGE_SIZE:
            problems.append(f"the two environments' ranges overlap: {base}, {other_base}")
        problems += await host_file_owners(plane, runner, runtime, env_id, base)
        problems += shared_host_uids(runner.config.cgroup_parent)
    assert not problems, "isolation checks failed:\n" + "\n".join(problems)
