"""Real environments: crun, user namespaces, idmapped layers, cgroups, a netns each (root)."""

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.runner.idalloc import WORKSPACE_ID_BASE
from roost.runner.images import Image
from tests.runner.conftest import BUSYBOX_FULL, shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, real_runner, run_in, wait_phase

pytestmark = pytest.mark.root


@pytest.fixture
async def runner(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> AsyncIterator[RealRunner]:
    async with real_runner(plane, tmp_path, shared_image_store()) as r:
        yield r


async def create(plane: PlaneHarness, **spec: object) -> str:
    spec.setdefault("image", BUSYBOX_FULL)
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    await wait_phase(plane, env_id, "running")
    return env_id


async def sh(plane: PlaneHarness, env_id: str, script: str) -> tuple[int, str, str]:
    return await run_in(plane, plane.admin, env_id, "sh", "-c", script)


def host_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


async def test_root_inside_is_unprivileged_outside(plane: PlaneHarness, runner: RealRunner) -> None:
    env_id = await create(plane)
    code, out, _ = await run_in(plane, plane.admin, env_id, "id")
    assert code == 0 and out.startswith("uid=0(root) gid=0(root)")
    code, out, _ = await run_in(plane, plane.admin, env_id, "cat", "/proc/self/uid_map")
    inside, outside, size = out.split()
    assert (inside, size) == ("0", "65536")
    assert int(outside) >= 1 << 24  # not the identity map: root inside is some high host uid
    inspection = await runner.assembly.driver.inspect(env_id)
    assert inspection.pid is not None and host_uid(inspection.pid) == int(outside)


async def test_files_keep_unprivileged_owners_on_the_host(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    env_id = await create(plane)
    code, _, err = await sh(
        plane, env_id, "touch /made-by-root && echo hi > /workspaces/workspace/note"
    )
    assert code == 0, err
    base = runner.assembly.ids.find(env_id)
    upper = runner.config.data_dir / "envs" / env_id / "upper" / "made-by-root"
    assert upper.stat().st_uid == base
    note = runner.config.data_dir / "workspaces" / env_id / "note"
    assert note.stat().st_uid == WORKSPACE_ID_BASE  # the same on every runner; not host root
    code, out, _ = await sh(plane, env_id, "stat -c %u:%g /workspaces/workspace/note")
    assert out.strip() == "0:0"


async def test_masked_and_read_only_proc(plane: PlaneHarness, runner: RealRunner) -> None:
    env_id = await create(plane)
    present = [
        p for p in ("/proc/keys", "/proc/timer_list", "/proc/interrupts") if Path(p).exists()
    ]
    assert present  # on the host they have content
    code, out, _ = await sh(plane, env_id, "cat " + " ".join(present))
    assert code == 0 and out == ""
    code, _, err = await sh(plane, env_id, "echo x > /proc/sys/kernel/hostname")
    assert code != 0 and "Read-only" in err
    code, _, _ = await sh(plane, env_id, "echo b > /proc/sysrq-trigger")
    assert code != 0
    code, out, _ = await sh(plane, env_id, "grep CapEff /proc/self/status")
    eff = int(out.split()[1], 16)
    assert not eff & (1 << 21)  # CAP_SYS_ADMIN
    assert not eff & (1 << 12)  # CAP_NET_ADMIN


async def test_environments_cannot_reach_each_other_or_the_host(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    a = await create(plane)
    b = await create(plane)
    code, _, err = await sh(
        plane,
        a,
        "echo hi > /tmp/index.html && httpd -p 8000 -h /tmp && "
        "for i in $(seq 50); do timeout 1 wget -q -O /dev/null http://127.0.0.1:8000/ && exit 0; "
        "sleep 0.1; done; exit 1",
    )
    assert code == 0, err
    ip_a = (await sh(plane, a, "ip -4 -o addr show eth0"))[1].split()[3].split("/")[0]
    code, out, err = await sh(
        plane, a, "timeout 3 wget -q -O /dev/null http://127.0.0.1:8000/ && echo ok"
    )
    assert "ok" in out, (out, err)  # it reaches itself
    code, _, _ = await sh(plane, b, f"timeout 3 wget -q -O /dev/null http://{ip_a}:8000/")
    assert code != 0  # but not the other environment

    with socket.socket() as listener:  # a service on the host, on every address
        listener.bind(("0.0.0.0", 0))  # noqa: S104
        listener.listen()
        port = listener.getsockname()[1]
        gateway = runner.config.subnet.rsplit(".", 1)[0] + ".1"
        for target in ("127.0.0.1", gateway, "169.254.169.254"):
            code, _, _ = await sh(plane, a, f"nc -w 2 {target} {port} </dev/null")
            assert code != 0, target


async def test_egress_and_dns_work(plane: PlaneHarness, runner: RealRunner) -> None:
    env_id = await create(plane)
    # static busybox cannot use glibc's resolver: nslookup speaks DNS itself, wget goes by address
    script = (
        "ip=$(nslookup deb.debian.org | awk '/^Address: / {print $2}' | grep -v : | head -n 1); "
        "timeout 10 wget -q -O - --header 'Host: deb.debian.org' "
        "http://$ip/debian/dists/bookworm/Release | head -n 1"
    )
    code, out, err = await sh(plane, env_id, script)
    assert code == 0, err
    assert out.strip() == "Origin: Debian"


async def test_memory_hog_is_killed_inside_only(plane: PlaneHarness, runner: RealRunner) -> None:
    await plane.admin.post(
        "/api/v1/classes", json={"name": "tiny", "resources": {"memory_mib": 64, "cpu": 1}}
    )
    env_id = await create(plane, **{"class": "tiny"})
    code, _, _ = await sh(plane, env_id, "x=aaaaaaaa; while true; do x=$x$x; done")
    assert code == 137  # SIGKILL from the OOM killer
    code, _, _ = await run_in(plane, plane.admin, env_id, "id")
    assert code == 0  # the environment itself lives on
    stats = await runner.assembly.driver.stats(env_id)
    assert stats.oom_kills >= 1
    assert stats.memory_limit_bytes == 64 * 1024 * 1024


async def test_pids_limit_holds(plane: PlaneHarness, runner: RealRunner) -> None:
    await plane.admin.post(
        "/api/v1/classes", json={"name": "fewpids", "resources": {"pids": 64, "cpu": 1}}
    )
    env_id = await create(plane, **{"class": "fewpids"})
    fork_bomb = "for i in $(seq 300); do sleep 2 >/dev/null 2>&1 & done 2>/dev/null; sleep 0.5"
    await sh(plane, env_id, fork_bomb)  # forks fail at the limit; the shell may give up
    stats = await runner.assembly.driver.stats(env_id)
    assert 0 < stats.pids <= 64
    await asyncio.sleep(2.5)  # the sleepers end; the environment is usable again
    code, _, _ = await run_in(plane, plane.admin, env_id, "id")
    assert code == 0


@pytest.mark.parametrize("keep_layer", [False, True])
async def test_stop_start_keeps_files_and_delete_removes_everything(
    plane: PlaneHarness, runner: RealRunner, keep_layer: bool
) -> None:
    """The workspace always survives a stop; the writable layer only when the class says so."""
    await plane.admin.post(
        "/api/v1/classes",
        json={"name": "keeper", "resources": {"keep_writable_layer": keep_layer}},
    )
    env_id = await create(plane, **{"class": "keeper"})
    code, _, err = await sh(
        plane, env_id, "echo kept > /root/rootfs-file && echo kept > /workspaces/workspace/ws-file"
    )
    assert code == 0, err
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    await wait_phase(plane, env_id, "stopped")
    env_dir = runner.config.data_dir / "envs" / env_id
    mounts = Path("/proc/self/mounts").read_text()
    assert f"{env_dir}/" not in mounts  # stopping released the mounts
    await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    await wait_phase(plane, env_id, "running")
    _, out, _ = await sh(plane, env_id, "cat /workspaces/workspace/ws-file /root/rootfs-file")
    assert out == ("kept\nkept\n" if keep_layer else "kept\n")
    await plane.admin.delete(f"/api/v1/environments/{env_id}")
    await wait_phase(plane, env_id, "gone")
    assert not env_dir.exists()
    assert not (runner.config.data_dir / "workspaces" / env_id).exists()
    assert runner.assembly.ids.find(env_id) is None


async def test_debian_environment(plane: PlaneHarness, tmp_path: Path, debian_base: Image) -> None:
    async with real_runner(plane, tmp_path, shared_image_store()):
        env_id = await create(plane, image=debian_base.ref)
        code, out, err = await run_in(
            plane,
            plane.admin,
            env_id,
            "bash",
            "-c",
            "cat /etc/debian_version; id -un; git --version",
        )
        assert code == 0, err
        assert out.splitlines()[1] == "root"
        assert out.splitlines()[2].startswith("git version")


async def test_pull_from_a_registry(plane: PlaneHarness, tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    from roost.runner.images import ImageStore

    async with real_runner(plane, tmp_path, ImageStore(tmp_path / "images")):
        env_id = await create(plane, image=f"{registry.host}/busybox:latest")
        code, out, _ = await run_in(plane, plane.admin, env_id, "cat", "/etc/motd")
        assert code == 0 and "busybox" in out


async def test_missing_image_fails_clearly(
    plane: PlaneHarness,
    runner: RealRunner,
    registry,  # type: ignore[no-untyped-def]
) -> None:
    spec = {"image": f"{registry.host}/busybox:no-such-tag"}
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    env = await wait_phase(plane, r.json()["metadata"]["id"], "failed")
    assert "no-such-tag" in env["status"]["message"]
    assert "not found" in env["status"]["message"]
    other = await create(plane)  # nothing else is disturbed
    assert (await run_in(plane, plane.admin, other, "true"))[0] == 0


async def test_unreachable_registry_is_retried_and_says_so(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    r = await plane.admin.post("/api/v1/environments", json={"spec": {"image": "127.0.0.1:9/x:1"}})
    env_id = r.json()["metadata"]["id"]
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        await plane.schedule()
        env = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        if "retrying" in env["status"]["message"]:
            break
        assert asyncio.get_running_loop().time() < deadline, env["status"]
        await asyncio.sleep(0.1)
    assert "127.0.0.1:9" in env["status"]["message"]
    assert env["status"]["phase"] == "creating"
    await asyncio.sleep(1)
    later = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert later["status"]["status_version"] - env["status"]["status_version"] <= 2  # no busy loop


async def test_exec_exit_codes_and_stdin(plane: PlaneHarness, runner: RealRunner) -> None:
    env_id = await create(plane)
    assert (await sh(plane, env_id, "exit 42"))[0] == 42
    code, out, _ = await run_in(plane, plane.admin, env_id, "cat", stdin=b"piped\n")
    assert (code, out) == (0, "piped\n")
    code, out, err = await sh(plane, env_id, "echo out; echo err >&2")
    assert (out, err) == ("out\n", "err\n")


async def test_exec_needs_a_ticket_and_the_owner(plane: PlaneHarness, runner: RealRunner) -> None:
    env_id = await create(plane)
    member = await plane.user("mallory")
    r = await member.post(f"/api/v1/environments/{env_id}/exec")
    assert r.status_code == 404  # not even visible
    org_admin = await plane.user("oscar", role="admin")
    r = await org_admin.post(f"/api/v1/environments/{env_id}/exec")
    assert r.status_code == 403  # visible, but only the owner gets in
    import aiohttp

    url = f"ws://{runner.config.access_listen}/exec/{env_id}"
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer roost_x_y"}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(url, headers=headers)
            assert info.value.status == 401
    ticket = (await plane.admin.post(f"/api/v1/environments/{env_id}/exec")).json()
    assert (await run_in(plane, plane.admin, env_id, "true"))[0] == 0
    async with aiohttp.ClientSession() as session:  # a ticket is good once
        await (
            await session.ws_connect(
                ticket["url"], headers={"Authorization": f"Bearer {ticket['ticket']}"}
            )
        ).close()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(
                ticket["url"], headers={"Authorization": f"Bearer {ticket['ticket']}"}
            )
    audit = (await plane.admin.get("/api/v1/audit?organization=default")).json()["items"]
    assert any(e["action"] == "environment.exec" and e["outcome"] == "denied" for e in audit)


async def test_no_leftovers_after_the_runner_cleans_up(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    async with real_runner(plane, tmp_path, shared_image_store()) as r:
        await create(plane)
        prefix = r.config.nft_table
        data_dir = r.config.data_dir
    await asyncio.sleep(0)
    assert str(data_dir) not in Path("/proc/self/mounts").read_text()
    assert not [n for n in os.listdir("/run/netns") if n.startswith(prefix)]


async def test_class_cpu_quota_is_applied_once_running(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    """Without the CPU control loop (``cpu_control``), the class's CPU is a fixed quota."""
    await plane.admin.post(
        "/api/v1/classes", json={"name": "halfcpu", "resources": {"cpu": 0.5, "memory_mib": 256}}
    )
    async with real_runner(plane, tmp_path, shared_image_store(), cpu_control=False) as runner:
        await _check_fixed_quota(plane, runner)


async def _check_fixed_quota(plane: PlaneHarness, runner: RealRunner) -> None:
    env_id = await create(plane, **{"class": "halfcpu"})
    path = runner.assembly.driver.cgroups_path(env_id).strip("/")
    v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    if v2:
        quota = Path(f"/sys/fs/cgroup/{path}/cpu.max").read_text().split()[0]
    else:
        quota = Path(f"/sys/fs/cgroup/cpu/{path}/cpu.cfs_quota_us").read_text().strip()
    assert int(quota) == 50_000
