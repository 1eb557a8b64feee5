"""Unpacking layers: whiteouts for overlayfs, diff ids, compression, and hostile tarballs."""

import gzip
import os
import stat
import subprocess
from pathlib import Path

import pytest

from roost.runner.images import ImageError
from roost.runner.images.unpack import sniff_compression, unpack_layer
from roost.runner.images.whiteouts import convert_whiteouts, is_whiteout, opaque_xattr
from tests.runner.images.fakes import TarBuilder, digest_of


def write(tmp_path: Path, data: bytes, name: str = "layer.tar") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_whiteouts_become_overlay_whiteouts_and_opaque_dirs(tmp_path: Path) -> None:
    tar = (
        TarBuilder()
        .dir("etc")
        .file("etc/.wh.motd")
        .dir("var/cache")
        .file("var/cache/.wh..wh..opq")
        .file("var/cache/fresh", b"new")
        .file("usr/.wh..wh.plnk")
        .file("keep", b"same layer wins")
        .file(".wh.keep")
        .bytes()
    )
    dest = tmp_path / "layer"
    result = unpack_layer(write(tmp_path, tar), dest, digest_of(tar), "test layer")
    assert result.diff_id == digest_of(tar)
    assert result.size == len(tar)
    assert is_whiteout(dest / "etc" / "motd")
    assert not (dest / "etc" / ".wh.motd").exists()
    assert os.getxattr(dest / "var" / "cache", opaque_xattr()) == b"y"
    assert sorted(os.listdir(dest / "var" / "cache")) == ["fresh"]
    assert os.listdir(dest / "usr") == []
    assert (dest / "keep").read_bytes() == b"same layer wins"


def test_convert_whiteouts_keeps_directory_mtime(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / ".wh.gone").touch()
    os.utime(tmp_path / "d", (1_000_000, 1_000_000))
    assert convert_whiteouts(tmp_path) == 1
    assert (tmp_path / "d").stat().st_mtime == 1_000_000
    assert stat.S_ISCHR(os.lstat(tmp_path / "d" / "gone").st_mode)


def test_modes_symlinks_and_hardlinks_are_kept(tmp_path: Path) -> None:
    tar = (
        TarBuilder()
        .file("bin/tool", b"#!/bin/sh\n", mode=0o4755)
        .symlink("bin/sh", "tool")
        .hardlink("bin/tool2", "bin/tool")
        .dir("tmp", mode=0o1777)
        .bytes()
    )
    dest = tmp_path / "layer"
    unpack_layer(write(tmp_path, tar), dest, None, "test layer")
    assert stat.S_IMODE((dest / "bin" / "tool").stat().st_mode) == 0o4755
    assert os.readlink(dest / "bin" / "sh") == "tool"
    assert (dest / "bin" / "tool2").stat().st_ino == (dest / "bin" / "tool").stat().st_ino
    assert stat.S_IMODE((dest / "tmp").stat().st_mode) == 0o1777


def test_diff_id_mismatch_is_rejected(tmp_path: Path) -> None:
    tar = TarBuilder().file("a", b"a").bytes()
    with pytest.raises(ImageError, match="unpacks to diff id"):
        unpack_layer(write(tmp_path, tar), tmp_path / "l", "sha256:" + "0" * 64, "test layer")


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_compressions_are_sniffed_not_trusted(tmp_path: Path, compression: str) -> None:
    tar = TarBuilder().file("hello", b"hello").bytes()
    blob = write(tmp_path, tar, "blob")
    if compression != "none":
        subprocess.run([compression, "-q", str(blob)], check=True)
        blob = next(p for p in tmp_path.iterdir() if p.name.startswith("blob."))
    assert sniff_compression(blob) == compression
    unpack_layer(blob, tmp_path / "l", digest_of(tar), "test layer")
    assert (tmp_path / "l" / "hello").read_bytes() == b"hello"


def test_stream_without_end_of_archive_is_accepted(tmp_path: Path) -> None:
    """umoci 0.4 writes layers that stop right after the last file's data."""
    tar = TarBuilder().file("opt/hello", b"hello\n").bytes()
    truncated = tar[: 512 + len(b"hello\n")]  # header + data, no padding, no end marker
    blob = write(tmp_path, gzip.compress(truncated), "blob")
    result = unpack_layer(blob, tmp_path / "l", digest_of(truncated), "test layer")
    assert (tmp_path / "l" / "opt" / "hello").read_bytes() == b"hello\n"
    assert result.size == len(truncated)


def test_garbage_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="corrupt or unsafe"):
        unpack_layer(write(tmp_path, b"\x00garbage" * 100), tmp_path / "l", None, "test layer")
    with pytest.raises(ImageError, match="not valid gzip data"):
        unpack_layer(write(tmp_path, b"\x1f\x8bnot gzip", "g"), tmp_path / "g2", None, "layer")


class TestHostileLayers:
    """Nothing may be written outside the layer directory, whatever the tarball says."""

    def unpack(self, tmp_path: Path, tar: bytes) -> Path:
        dest = tmp_path / "box" / "layer"
        dest.parent.mkdir()
        with pytest.raises(ImageError, match="corrupt or unsafe"):
            unpack_layer(write(tmp_path, tar), dest, None, "hostile layer")
        return dest

    def test_dot_dot_member(self, tmp_path: Path) -> None:
        self.unpack(tmp_path, TarBuilder().file("../../escaped", b"x").bytes())
        assert not (tmp_path / "escaped").exists()

    def test_write_through_an_absolute_symlink(self, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        tar = TarBuilder().symlink("evil", str(outside)).file("evil/pwned", b"x").bytes()
        self.unpack(tmp_path, tar)
        assert list(outside.iterdir()) == []

    def test_write_through_a_relative_symlink(self, tmp_path: Path) -> None:
        tar = TarBuilder().symlink("up", "../..").file("up/pwned", b"x").bytes()
        self.unpack(tmp_path, tar)
        assert not (tmp_path / "pwned").exists()

    def test_hardlink_to_a_file_outside(self, tmp_path: Path) -> None:
        target = tmp_path / "target"
        target.write_text("precious")
        self.unpack(tmp_path, TarBuilder().hardlink("link", "../../target").bytes())
        assert target.stat().st_nlink == 1

    def test_absolute_member_names_stay_inside(self, tmp_path: Path) -> None:
        name = str(tmp_path / "abs-escape")
        tar = TarBuilder().file(name, b"x").bytes()
        dest = tmp_path / "layer"
        unpack_layer(write(tmp_path, tar), dest, None, "layer")
        assert not Path(name).exists()
        assert (dest / name.lstrip("/")).exists()

    def test_overlay_xattrs_in_a_layer_are_not_restored(self, tmp_path: Path) -> None:
        # tarfile cannot write xattrs; GNU tar can, from a tree that has them.
        tree = tmp_path / "tree"
        (tree / "d").mkdir(parents=True)
        os.setxattr(tree / "d", "user.overlay.opaque", b"y")
        os.setxattr(tree / "d", "user.other", b"kept")
        archive = tmp_path / "x.tar"
        subprocess.run(
            [
                "tar",
                "--create",
                "--xattrs",
                "--xattrs-include=*",
                f"--file={archive}",
                f"--directory={tree}",
                "d",
            ],
            check=True,
        )
        dest = tmp_path / "layer"
        unpack_layer(archive, dest, None, "layer")
        assert os.listxattr(dest / "d") == ["user.other"]
