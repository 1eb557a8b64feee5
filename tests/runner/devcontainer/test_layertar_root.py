"""Packing a store layer back into an OCI tar: whiteouts become marker files, the bytes are
the same every time, and unpacking gives the layer back (root: overlay's trusted xattrs)."""

import os
import stat
import tarfile
from pathlib import Path

import pytest

from roost.runner.devcontainer.layertar import write_layer_tar
from roost.runner.images.unpack import unpack_layer
from roost.runner.images.whiteouts import is_whiteout

pytestmark = pytest.mark.root


def layer(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "kept").write_text("kept\n")
    os.mknod(root / "etc" / "motd", stat.S_IFCHR, os.makedev(0, 0))  # a deleted file
    (root / "var" / "cache").mkdir(parents=True)
    (root / "var" / "cache" / "fresh").write_text("fresh\n")
    os.setxattr(root / "var" / "cache", "trusted.overlay.opaque", b"y")
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_text("#!/bin/sh\n")
    os.chown(root / "bin" / "tool", 1000, 1000)
    os.chmod(root / "bin" / "tool", 0o4755)  # after chown, which clears setuid
    return root


def test_whiteouts_become_oci_markers_and_come_back(tmp_path: Path) -> None:
    src = layer(tmp_path / "layer")
    first, second = tmp_path / "one.tar", tmp_path / "two.tar"
    digest, size = write_layer_tar(src, first)
    assert write_layer_tar(src, second)[0] == digest  # deterministic: same diff id
    assert size == first.stat().st_size
    with tarfile.open(first) as tar:
        members = {m.name.removeprefix("./"): m for m in tar}
    assert members["etc/.wh.motd"].isfile()
    assert "etc/motd" not in members
    assert members["var/cache/.wh..wh..opq"].isfile()
    assert not any("trusted.overlay" in k for m in members.values() for k in m.pax_headers)
    tool = members["bin/tool"]
    assert (tool.uid, tool.gid, tool.mode & 0o7777) == (1000, 1000, 0o4755)
    back = tmp_path / "back"
    unpacked = unpack_layer(first, back, digest, "test layer")
    assert unpacked.diff_id == digest
    assert is_whiteout(back / "etc" / "motd")
    assert os.getxattr(back / "var" / "cache", "trusted.overlay.opaque") == b"y"
    assert (back / "etc" / "kept").read_text() == "kept\n"
