"""What nested mode changes in the bundle, and what it leaves alone (pure, no root)."""

from pathlib import Path
from typing import Any

from roost.core.schemas.projects import Resources
from roost.runner.network import egress
from roost.runner.runtime.base import RuntimeSpec
from roost.runner.runtime.container import bundle, seccomp


def doc(tmp_path: Path, nested: bool) -> dict[str, Any]:
    spec = RuntimeSpec(
        env_id="e1", layers=(tmp_path / "layer",), resources=Resources(), id_base=1 << 24,
        hostname="h", workspace=tmp_path / "ws", netns=Path("/run/netns/x"),
        nested_containers=nested,
    )  # fmt: skip
    return bundle.config(
        spec, etc_dir=tmp_path / "etc", init_binary=tmp_path / "init", cgroups_path="/r/e1",
        nofile=1024, swap_accounting=True,
        engine_dir=tmp_path / "engine" if nested else None,
    )  # fmt: skip


def mount(d: dict[str, Any], target: str) -> dict[str, Any]:
    return next(m for m in d["mounts"] if m["destination"] == target)


def test_nested_mode_grants_engine_needs_inside_the_user_namespace(tmp_path: Path) -> None:
    d = doc(tmp_path, nested=True)
    caps = d["process"]["capabilities"]["bounding"]
    assert {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"} <= set(caps)
    assert "CAP_SYS_MODULE" not in caps and "CAP_SYS_RESOURCE" not in caps
    namespaces = {n["type"]: n for n in d["linux"]["namespaces"]}
    assert "path" not in namespaces["network"]  # its own, owned by its user namespace
    assert namespaces["user"] == {"type": "user"} and namespaces["cgroup"] == {"type": "cgroup"}
    assert "rw" in mount(d, "/sys/fs/cgroup")["options"]
    assert mount(d, "/var/lib/docker")["source"] == str(tmp_path / "engine" / "docker")
    assert mount(d, "/var/lib/containers")["source"] == str(tmp_path / "engine" / "containers")
    assert {dev["path"] for dev in d["linux"]["devices"]} == {"/dev/fuse", "/dev/net/tun"}
    assert "/proc/sys" not in d["linux"]["readonlyPaths"]
    assert d["linux"]["maskedPaths"] == list(bundle.MASKED)
    assert d["linux"]["resources"]["memory"]["limit"] == Resources().memory_mib << 20
    rules = d["linux"]["seccomp"]["syscalls"]
    assert not any(r.get("args") for r in rules)  # nested user namespaces allowed
    keyrings = next(r for r in rules if "keyctl" in r["names"])
    assert keyrings["errnoRet"] == seccomp.ENOSYS
    assert "kexec_load" in rules[0]["names"] and "bpf" in rules[0]["names"]


def test_without_the_mode_nothing_changes(tmp_path: Path) -> None:
    d = doc(tmp_path, nested=False)
    assert "CAP_SYS_ADMIN" not in d["process"]["capabilities"]["bounding"]
    network = next(n for n in d["linux"]["namespaces"] if n["type"] == "network")
    assert network["path"] == "/run/netns/x"
    assert "ro" in mount(d, "/sys/fs/cgroup")["options"]
    assert "/proc/sys" in d["linux"]["readonlyPaths"]
    assert "devices" not in d["linux"]
    assert not [m for m in d["mounts"] if m["destination"].startswith("/var/lib/")]
    assert d["linux"]["seccomp"] == seccomp.profile()


def test_the_egress_policy_covers_forwarded_traffic_too() -> None:
    text = egress.render(["140.82.112.0/20"], "10.211.0.1", [])
    forward = text[text.index("chain forward") :]
    assert "ip daddr @allow accept" in forward and "reject with icmpx" in forward
    assert 'iifname "eth0" accept' in forward
