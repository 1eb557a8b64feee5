"""Per-environment disks on their own (root): made, adopted, resized live, removed."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.runner.disks import Disks
from roost.runner.disks.disks import WORKSPACE_DIR
from roost.runner.disks.ext4 import RESERVE_BYTES, image_bytes

pytestmark = pytest.mark.root
GIB = 1 << 30
NOBODY = 1_234_567  # an unprivileged host uid, as processes inside are


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[Disks]:
    d = Disks(tmp_path / "disks", tmp_path / "envs", tmp_path / "workspaces")
    try:
        yield d
    finally:
        for env_id in d.list():
            d.remove(env_id)


def fill(path: Path) -> tuple[int, str]:
    """Write zeros to ``path`` as an unprivileged user until it fails (started in its directory,
    which root enters first: the test's temporary parents are closed to others)."""
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "dd", "if=/dev/zero", f"of={path.name}", "bs=4M"]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=path.parent)
    return path.stat().st_size, result.stderr


def test_a_disk_holds_the_layer_and_the_workspace_to_one_quota(disks: Disks) -> None:
    assert disks.ensure("e1", 1) is None
    mountpoint, workspace = disks.mountpoint("e1"), disks.workspace("e1")
    assert os.path.ismount(mountpoint) and os.path.ismount(workspace)
    for d in (mountpoint / "upper", workspace):
        d.mkdir(exist_ok=True)
        os.chown(d, NOBODY, NOBODY)
    (mountpoint / "upper" / "layer").write_bytes(b"x" * (300 << 20))
    size, err = fill(workspace / "fill")
    assert "No space left on device" in err
    assert 0.95 * GIB <= size + (300 << 20) <= GIB
    (mountpoint / "config.json").write_bytes(b"{}" * 100_000)  # root still writes (its reserve)
    assert (mountpoint / WORKSPACE_DIR / "fill").stat().st_size == size
    assert disks.image("e1").stat().st_size == image_bytes(1)


def test_the_quota_moves_live_both_ways(disks: Disks) -> None:
    disks.ensure("e1", 1)
    os.chown(disks.workspace("e1"), NOBODY, NOBODY)
    assert disks.ensure("e1", 2) is None  # grows without unmounting
    size, _ = fill(disks.workspace("e1") / "fill")
    assert 1.9 * GIB < size <= 2 * GIB
    note = disks.ensure("e1", 1)
    assert note is not None and "more than its new size of 1 GiB" in note
    (disks.workspace("e1") / "fill").unlink()
    assert disks.ensure("e1", 1) is None
    usage = disks.usage("e1")
    assert usage is not None and usage[1] <= GIB
    note = disks.ensure("e1", 50)  # past the image's headroom: needs a real resize
    if os.geteuid() == 0 and note is not None:  # without CAP_SYS_RESOURCE it says so
        assert "can grow live to 2 GiB" in note


def test_files_written_before_the_disk_are_adopted(disks: Disks) -> None:
    """A restore (or an older runner) left the files at the paths: they move onto the disk."""
    mountpoint, workspace = disks.mountpoint("e2"), disks.workspace("e2")
    (mountpoint / "upper" / "etc").mkdir(parents=True)
    (mountpoint / "upper" / "etc" / "motd").write_text("kept\n")
    os.chown(mountpoint / "upper" / "etc" / "motd", 100_000, 100_000)
    os.mknod(mountpoint / "upper" / "gone", 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout
    os.setxattr(mountpoint / "upper" / "etc", "trusted.overlay.opaque", b"y")
    workspace.mkdir(parents=True)
    (workspace / "src.py").write_text("print(1)\n")
    os.link(workspace / "src.py", workspace / "hardlink.py")
    disks.ensure("e2", 1)
    assert os.path.ismount(mountpoint)
    motd = mountpoint / "upper" / "etc" / "motd"
    assert motd.read_text() == "kept\n" and motd.stat().st_uid == 100_000
    assert os.getxattr(mountpoint / "upper" / "etc", "trusted.overlay.opaque") == b"y"
    assert os.stat(mountpoint / "upper" / "gone").st_rdev == os.makedev(0, 0)
    assert (workspace / "src.py").stat().st_nlink == 2
    assert (mountpoint / WORKSPACE_DIR / "src.py").exists()


def test_remove_leaves_nothing(disks: Disks, tmp_path: Path) -> None:
    disks.ensure("e3", 1)
    disks.remove("e3")
    disks.remove("e3")  # idempotent
    assert not os.path.ismount(disks.mountpoint("e3"))
    assert not os.path.ismount(disks.workspace("e3"))
    assert disks.list() == []
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()
    assert RESERVE_BYTES > 0
