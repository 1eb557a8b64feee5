"""Untrusted tars unpack by the ``data`` filter's rules, also on a Python without extraction
filters (Debian 12's 3.11.2): the fallback is tested directly."""

import io
import os
import tarfile
from pathlib import Path

import pytest

from roost.runner.images import safetar


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> tarfile.TarFile:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return tarfile.open(fileobj=buf)


def _file(name: str, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.uid = 4242
    return info, b"data"


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


@pytest.fixture(params=["python", "fallback"])
def no_filter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "fallback":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)


@pytest.mark.usefixtures("no_filter")
def test_plain_files_land_without_dangerous_bits(tmp_path: Path) -> None:
    safetar.extract_all(_tar(_file("a/b.txt", 0o4777), _link("a/c", "b.txt")), tmp_path)
    path = tmp_path / "a" / "b.txt"
    assert path.read_bytes() == b"data"
    assert path.stat().st_mode & 0o7777 == 0o755
    assert os.readlink(tmp_path / "a" / "c") == "b.txt"


@pytest.mark.usefixtures("no_filter")
@pytest.mark.parametrize(
    "member",
    [
        _file("../escape"),
        _link("up", "../../etc/passwd"),
        _link("abs", "/etc/passwd"),
        _link("hard", "../outside", tarfile.LNKTYPE),
    ],
    ids=["dotdot", "symlink-out", "symlink-absolute", "hardlink-out"],
)
def test_members_that_leave_the_destination_are_refused(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes]
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(tarfile.TarError):
        safetar.extract_all(_tar(member), dest)
    assert not (tmp_path / "escape").exists()


def test_devices_are_refused_by_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    info = tarfile.TarInfo("null")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    with pytest.raises(tarfile.TarError, match="device"):
        safetar.extract_all(_tar((info, b"")), tmp_path)
