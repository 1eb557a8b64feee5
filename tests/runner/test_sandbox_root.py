"""The ``sandbox`` runtime for real: gVisor environments, exec, terminals, sudo, the network,
stop/start and delete (root). Its isolation is proven in ``tests/isolation``."""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.runner.idalloc import WORKSPACE_ID_BASE
from roost.runner.images import Image
from roost.runner.runtime.base import ExecRequest
from roost.runner.runtime.sandbox.driver import SandboxDriver
from tests.isolation.harness import ROOT, USER, create_env, exec_as, isolation_runner
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, wait_phase

pytestmark = pytest.mark.root


@pytest.fixture
async def runner(plane: PlaneHarness, tmp_path: Path) -> AsyncIterator[RealRunner]:
    async with isolation_runner(plane, tmp_path, "sandbox", name="sandboxer") as r:
        yield r


def sandbox_of(runner: RealRunner) -> SandboxDriver:
    assert runner.assembly.sandbox is not None
    return runner.assembly.sandbox


async def read_all(proc) -> bytes:  # type: ignore[no-untyped-def]
    out = b""
    while True:
        stream, data = await proc.read()
        if stream == 0:
            return out
        out += data


async def test_the_runner_offers_the_sandbox_runtime_and_runs_under_gvisor(
    plane: PlaneHarness, runner: RealRunner, debian_base: Image
) -> None:
    assert runner.assembly.runtimes() == ["container", "sandbox"]
    env_id = await create_env(plane, plane.admin, debian_base.ref, "sandbox")
    code, out, _ = await exec_as(plane.admin, env_id, ROOT, "uname", "-r")
    assert code == 0 and out.strip() != os.uname().release  # the Sentry's kernel, not the host's
    pid = (await sandbox_of(runner).inspect(env_id)).pid
    assert pid is not None and Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"runsc")


async def test_exec_streams_exit_codes_and_a_terminal(
    plane: PlaneHarness, runner: RealRunner, debian_base: Image
) -> None:
    env_id = await create_env(plane, plane.admin, debian_base.ref, "sandbox")
    assert (await exec_as(plane.admin, env_id, ROOT, "sh", "-c", "exit 42"))[0] == 42
    code, out, _ = await exec_as(plane.admin, env_id, ROOT, "cat", stdin=b"piped\n")
    assert (code, out) == (0, "piped\n")
    request = ExecRequest(argv=["sh", "-c", "stty size; id -u"], tty=True, rows=33, cols=99)
    proc = await sandbox_of(runner).exec(env_id, request)
    output = await read_all(proc)
    assert await proc.wait() == 0
    assert output.replace(b"\r", b"").splitlines() == [b"33 99", b"0"]


async def test_the_remote_user_runs_unprivileged_and_sudo_is_refused(
    plane: PlaneHarness, runner: RealRunner, debian_base: Image
) -> None:
    """gVisor sets no_new_privs on every process, so setuid programs do not elevate: sudo
    refuses (a documented difference from the container runtime)."""
    env_id = await create_env(plane, plane.admin, debian_base.ref, "sandbox")
    setup = (  # the base image may have the user already
        "(id dev >/dev/null 2>&1 || useradd -m -u 1000 dev) && "
        "echo 'dev ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/dev"
    )
    assert (await exec_as(plane.admin, env_id, ROOT, "sh", "-c", setup))[0] == 0
    code, out, _ = await exec_as(plane.admin, env_id, USER, "id", "-u")
    assert (code, out) == (0, "1000\n")
    code, _, err = await exec_as(plane.admin, env_id, USER, "sudo", "-n", "id", "-u")
    assert code != 0 and "no new privileges" in err


async def test_the_network_survives_the_runner_repairing_it(
    plane: PlaneHarness, runner: RealRunner, debian_base: Image
) -> None:
    """runsc takes eth0's address; the runner's repair puts it back. The host stack must stay
    silent anyway, or it would reset the sandbox's connections (runtime/sandbox/hoststack.py)."""
    env_id = await create_env(plane, plane.admin, debian_base.ref, "sandbox")
    fetch = ["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
             "http://deb.debian.org/debian/dists/bookworm/Release"]  # fmt: skip
    code, out, err = await exec_as(plane.admin, env_id, ROOT, *fetch)
    assert (code, out) == (0, "200"), err
    await runner.assembly.network.create(env_id, env_id)  # what a re-adopting runner does
    code, out, err = await exec_as(plane.admin, env_id, ROOT, *fetch)
    assert (code, out) == (0, "200"), err


async def test_stop_start_keeps_the_workspace_and_delete_removes_everything(
    plane: PlaneHarness, runner: RealRunner, debian_base: Image
) -> None:
    env_id = await create_env(plane, plane.admin, debian_base.ref, "sandbox")
    local = runner.assembly.state.load(env_id)
    assert local is not None
    ws = local.workspace_target
    assert (await exec_as(plane.admin, env_id, ROOT, "sh", "-c", f"echo kept > {ws}/ws-file"))[
        0
    ] == 0
    on_disk = runner.config.data_dir / "workspaces" / env_id / "ws-file"
    assert on_disk.stat().st_uid == WORKSPACE_ID_BASE  # as under crun
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    await wait_phase(plane, env_id, "stopped")
    sandbox = sandbox_of(runner)
    view = sandbox.views / env_id
    assert not view.exists()
    mounted = Path("/proc/self/mountinfo").read_text()
    assert f"{sandbox.env_dir(env_id)}/" not in mounted  # (its disk, if any, stays: backups)
    await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    await wait_phase(plane, env_id, "running")
    assert (await exec_as(plane.admin, env_id, ROOT, "cat", f"{ws}/ws-file"))[1] == "kept\n"
    await plane.admin.delete(f"/api/v1/environments/{env_id}")
    await wait_phase(plane, env_id, "gone")
    assert not sandbox.env_dir(env_id).exists() and not view.exists()
    cgroup = sandbox.cgroups_path(env_id).strip("/")
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{cgroup}"))
    assert not Path(f"/sys/fs/cgroup/{cgroup}").exists()
    assert env_id not in sandbox.crun.names()
