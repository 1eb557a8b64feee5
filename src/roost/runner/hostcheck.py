"""The runner's host check: what the container runtime needs, verified before anything runs.

It fixes the one thing it safely can -- the hybrid cgroup layout of this project's VMs, whose v2
mount still holds the hugetlb controller (crun refuses that) -- and otherwise refuses to start
with one message listing every missing piece and how to get it.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from roost.runner.runtime.container import cgroups, mounts


@dataclass
class HostReport:
    problems: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    cgroup_layout: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


class HostCheckFailed(Exception):
    def __init__(self, report: HostReport) -> None:
        lines = "\n".join(f"  - {p}" for p in report.problems)
        super().__init__(f"this host cannot run environments:\n{lines}")
        self.report = report


def check(*, fix: bool = True) -> HostReport:
    report = HostReport()
    if os.geteuid() != 0:
        report.problems.append("the runner must run as root (it creates namespaces and mounts)")
        return report
    for tool, package in (("crun", "crun"), ("unshare", "util-linux"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            report.problems.append(f"{tool} is missing: apt-get install {package}")
    _check_userns(report)
    _check_overlay(report)
    _check_cgroups(report, fix)
    if not report.problems:
        _check_idmap(report)
    return report


def _check_userns(report: HostReport) -> None:
    try:
        limit = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except (OSError, ValueError):
        limit = 0
    if limit <= 0:
        report.problems.append(
            "user namespaces are disabled: sysctl -w user.max_user_namespaces=65536"
        )


def _check_overlay(report: HostReport) -> None:
    if "overlay" not in Path("/proc/filesystems").read_text():
        report.problems.append("overlayfs is not available: modprobe overlay")


def _check_cgroups(report: HostReport, fix: bool) -> None:
    info = cgroups.detect()
    if fix and any("hybrid" in p for p in info.problems):
        moved = cgroups.fix_hybrid()
        report.fixed += [
            f"mounted the {c} cgroup controller as v1 (crun refuses hybrid)" for c in moved
        ]
        info = cgroups.detect()
    report.cgroup_layout = info.layout
    report.problems += list(info.problems)


def _check_idmap(report: HostReport) -> None:
    """Make one idmapped mount for real: kernels before 5.12, or some filesystems, cannot."""
    with tempfile.TemporaryDirectory(prefix="roost-idmap-check-") as tmp:
        src, dst = Path(tmp) / "src", Path(tmp) / "dst"
        src.mkdir()
        dst.mkdir()
        try:
            ns = mounts.userns_fd(mounts.shift_map(1 << 30), mounts.shift_map(1 << 30))
            try:
                mounts.idmap_bind(src, dst, ns, readonly=True)
            finally:
                os.close(ns)
            ok = dst.stat().st_uid == (1 << 30)
            mounts.umount(dst)
        except OSError as exc:
            report.problems.append(
                f"idmapped mounts do not work here (kernel >= 5.12 needed): {exc}"
            )
            return
        if not ok:
            report.problems.append("idmapped mounts did not shift ownership")
