"""The sandbox runtime's pure parts: the bundle as gVisor gets it, the exec launcher's contract,
runsc's command lines and state, and routing between runtimes. Real sandboxes:
``test_sandbox_root.py`` and ``tests/isolation``."""

import json
import os
import sys
from pathlib import Path

import pytest

from roost.core.schemas.projects import Resources
from roost.runner.access.execws import parse_request
from roost.runner.runtime.base import ExecRequest, RuntimeFailure, RuntimeSpec
from roost.runner.runtime.container import bundle as container_bundle
from roost.runner.runtime.container import seccomp, seccomp_bpf
from roost.runner.runtime.fake import FakeDriver
from roost.runner.runtime.routing import RoutedDriver
from roost.runner.runtime.sandbox import bundle, launcher
from roost.runner.runtime.sandbox.runsc import Runsc, _state_from_file


def container_doc(tmp_path: Path, pids: int = 4096) -> dict[str, object]:
    spec = RuntimeSpec(
        env_id="e1", layers=(tmp_path / "layer",), resources=Resources(pids=pids),
        id_base=1 << 24, hostname="e1", workspace=tmp_path / "ws",
    )  # fmt: skip
    return container_bundle.config(
        spec, etc_dir=tmp_path / "etc", init_binary=tmp_path / "init",
        cgroups_path="/roost/e1", nofile=1024, swap_accounting=True,
        annotations={seccomp_bpf.ANNOTATION: "AAAA"},
    )  # fmt: skip


def adapted(tmp_path: Path, **kwargs: object) -> dict[str, object]:
    return bundle.adapt(
        container_doc(tmp_path, **kwargs),  # type: ignore[arg-type]
        workspace_view=tmp_path / "view" / "workspace",
        launcher_binary=tmp_path / "view" / "bin" / "exec",
        seccomp_filter=tmp_path / "view" / "seccomp.bpf",
    )


def test_the_bundle_keeps_the_container_boundary_minus_raw_sockets(tmp_path: Path) -> None:
    original = container_doc(tmp_path)
    doc = adapted(tmp_path)
    caps = doc["process"]["capabilities"]  # type: ignore[index]
    assert "CAP_NET_RAW" not in caps["bounding"] and "CAP_SYS_ADMIN" not in caps["bounding"]
    assert set(caps["bounding"]) == set(container_bundle.CAPABILITIES) - {"CAP_NET_RAW"}
    for key in ("namespaces", "uidMappings", "maskedPaths", "readonlyPaths", "resources"):
        assert doc["linux"][key] == original["linux"][key]  # type: ignore[index]
    assert seccomp_bpf.ANNOTATION not in doc["annotations"]  # type: ignore[operator]
    assert doc["linux"]["seccomp"] == seccomp.profile()  # type: ignore[index]  # runsc reads JSON
    assert original["annotations"]  # the original document is left alone


def test_the_workspace_is_the_host_side_idmapped_view(tmp_path: Path) -> None:
    mounts = {m["destination"]: m for m in adapted(tmp_path)["mounts"]}  # type: ignore[attr-defined]
    workspace = mounts[RuntimeSpec.workspace_target]
    assert workspace["source"] == str(tmp_path / "view" / "workspace")
    assert "idmap" not in workspace["options"] and "uidMappings" not in workspace
    assert mounts[launcher.PATH]["options"][:2] == ["rbind", "ro"]
    assert mounts[launcher.FILTER_PATH]["source"] == str(tmp_path / "view" / "seccomp.bpf")


def test_processes_are_held_below_what_the_host_tasks_allow(tmp_path: Path) -> None:
    rlimits = {r["type"]: r for r in adapted(tmp_path, pids=512)["process"]["rlimits"]}  # type: ignore[index]
    assert rlimits["RLIMIT_NPROC"]["hard"] == 512 // bundle.HOST_TASKS_PER_PROCESS
    assert bundle.process_limit(32) == bundle.MIN_PROCESSES
    assert bundle.has_seccomp(adapted(tmp_path))


def test_the_launcher_runs_every_exec_as_root_and_switches_to_the_user() -> None:
    wrapped = launcher.wrap(ExecRequest(argv=["id"], user="1000:1001"), seccomp=True)
    assert list(wrapped.argv) == [launcher.PATH, launcher.FILTER_PATH, "1000", "1001", "id"]
    assert wrapped.user == "0:0"
    assert list(launcher.wrap(ExecRequest(argv=["id"]), seccomp=False).argv)[:4] == [
        launcher.PATH, "-", "0", "0",
    ]  # fmt: skip
    assert list(launcher.wrap(ExecRequest(argv=["id"], user="7"), True).argv)[2:4] == ["7", "7"]
    with pytest.raises(RuntimeFailure):
        launcher.wrap(ExecRequest(argv=["id"], user="dev"), seccomp=True)


def test_runsc_command_lines(tmp_path: Path) -> None:
    runsc = Runsc(tmp_path / ".runsc", "runsc", bundle_for=lambda d: Path("/views") / d.name)
    argv = runsc.exec_process_argv("e1", "/proc/self/fd/5", console_socket=None)
    assert argv == ["runsc", "--root", str(tmp_path / ".runsc"), "--platform=ptrace",
                    "--network=sandbox", "--oci-seccomp", "exec", "--process",
                    "/proc/self/fd/5", "e1"]  # fmt: skip
    tty = runsc.exec_process_argv("e1", "/p", console_socket=Path("/s/sock"))
    assert tty[:4] == [sys.executable, "-m", "roost.runner.runtime.sandbox.ptyexec", "/s/sock"]
    assert tty[4] == "--" and tty[5:] == runsc.exec_process_argv("e1", "/p", console_socket=None)
    assert "--tty" not in tty  # runsc has no such flag


def test_runsc_state_comes_from_its_state_file(tmp_path: Path) -> None:
    path = tmp_path / "e1_sandbox:e1.state"
    path.write_text(json.dumps({"status": "running", "sandbox": {"pid": os.getpid()}}))
    # this test process is alive but is not that sandbox: the command line must name it
    assert _state_from_file(path) == {"status": "stopped", "pid": os.getpid()}
    path.write_text(json.dumps({"status": "created", "sandbox": {"pid": 1}}))
    assert _state_from_file(path) == {"status": "created", "pid": 1}
    path.write_text("{torn")
    assert _state_from_file(path) is None


async def test_routed_driver_sends_each_environment_to_its_runtime() -> None:
    container, sandbox = FakeDriver(), FakeDriver()
    runtimes = {"s1": "sandbox"}
    routed = RoutedDriver({"container": container, "sandbox": sandbox}, runtimes.get)
    assert routed.for_env("s1") is sandbox
    assert routed.for_env("c1") is container  # unknown: the default runtime
    runtimes["odd"] = "vm"
    assert routed.for_env("odd") is container


def test_exec_stream_user_must_be_numeric() -> None:
    assert parse_request({"argv": ["id"], "user": "1000:1000"}).user == "1000:1000"
    assert parse_request({"argv": ["id"]}).user is None
    for bad in ("root", "1000:dev", "", 0, "1:2:3"):
        with pytest.raises(ValueError, match="numeric"):
            parse_request({"argv": ["id"], "user": bad})
