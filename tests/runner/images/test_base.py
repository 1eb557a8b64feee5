"""The mmdebstrap base image: mirror discovery, argv, slimming; one real (slow) build."""

import os
from pathlib import Path
from typing import Any

import pytest

from roost.runner.images import DEFAULT_IMAGE, DEFAULT_PACKAGES, Image, ImageError, ImageStore
from roost.runner.images.base import FALLBACK_MIRROR, default_mirror, mmdebstrap_argv, slim


def apt_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_mirror_from_deb822_sources_for_the_suite(tmp_path: Path) -> None:
    apt = apt_dir(
        tmp_path,
        {
            "sources.list.d/a-vendor.sources": "Types: deb\nURIs: https://vendor.example/apt\n"
            "Suites: stable\nComponents: main\n",
            "sources.list.d/debian.sources": "Types: deb\n# http://snapshot.debian.org/x\n"
            "URIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
            "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n"
            "Suites: bookworm-security\n",
            "sources.list.d/old.list.disabled": "deb http://ignored.example/debian bookworm main\n",
        },
    )
    assert default_mirror("bookworm", apt) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources(tmp_path: Path) -> None:
    apt = apt_dir(
        tmp_path,
        {
            "sources.list": "# comment\ndeb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
        },
    )
    assert default_mirror("bookworm", apt) == "http://one.example/debian"
    assert default_mirror("trixie", apt) == FALLBACK_MIRROR


def test_argv_is_a_list_and_inputs_are_checked(tmp_path: Path) -> None:
    argv = mmdebstrap_argv(
        tmp_path / "r",
        suite="bookworm",
        packages=("git", "curl"),
        variant="apt",
        mirror="http://m/debian",
    )
    assert argv == [
        "mmdebstrap",
        "--variant=apt",
        "--mode=root",
        "--format=directory",
        "--include=git,curl",
        "bookworm",
        str(tmp_path / "r"),
        "http://m/debian",
    ]
    no_packages = mmdebstrap_argv(
        tmp_path / "r", suite="bookworm", packages=(), variant="minbase", mirror="http://m/debian"
    )
    assert not any(a.startswith("--include") for a in no_packages)
    good: dict[str, Any] = {
        "suite": "bookworm",
        "packages": (),
        "variant": "apt",
        "mirror": "http://m",
    }
    bad: list[dict[str, Any]] = [
        {"variant": "--evil"},
        {"suite": "-x"},
        {"packages": ("--hook=rm",)},
        {"mirror": "--foo"},
    ]
    for change in bad:
        with pytest.raises(ImageError):
            mmdebstrap_argv(tmp_path, **(good | change))


def test_slim_removes_identity_and_caches(tmp_path: Path) -> None:
    for d in ("etc/ssh", "var/lib/apt/lists/partial", "var/cache/apt", "var/lib/dbus"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "etc/ssh/ssh_host_ed25519_key").write_text("k")
    (tmp_path / "etc/ssh/ssh_config").write_text("c")
    (tmp_path / "etc/machine-id").write_text("0123\n")
    (tmp_path / "var/lib/dbus/machine-id").write_text("0123\n")
    (tmp_path / "var/lib/apt/lists/deb.debian.org_Packages").write_text("p")
    (tmp_path / "var/cache/apt/pkgcache.bin").write_text("p")
    slim(tmp_path)
    assert os.listdir(tmp_path / "etc/ssh") == ["ssh_config"]
    assert (tmp_path / "etc/machine-id").read_text() == ""
    assert not (tmp_path / "var/lib/dbus/machine-id").exists()
    assert os.listdir(tmp_path / "var/lib/apt/lists") == ["partial"]
    assert os.listdir(tmp_path / "var/cache/apt") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="checks the error non-root users get")
async def test_non_root_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="needs root"):
        await ImageStore(tmp_path).build_base(mirror="http://m/debian")


@pytest.mark.root
@pytest.mark.slow
async def test_build_minimal_base(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "store")
    image = await store.build_base("roost.local/minbase:test", variant="minbase", packages=())
    assert len(image.layers) == 1
    layer = image.layers[0]
    assert (layer / "etc" / "debian_version").is_file()
    machine_id = layer / "etc" / "machine-id"
    assert not machine_id.exists() or machine_id.read_text() == ""
    assert image.config.cmd == ("/bin/bash",)
    assert image.config.labels["org.roost.base"] == "1"
    assert image.size > 50_000_000
    assert await store.get("roost.local/minbase:test") == image
    assert list(store.layers.tmp.iterdir()) == []
    assert DEFAULT_IMAGE == "roost.local/base:bookworm"


@pytest.mark.root
@pytest.mark.slow
def test_cached_debian_base_fixture(debian_base: Image) -> None:
    """The session fixture other tests use: built once per machine with DEFAULT_PACKAGES."""
    assert debian_base.ref == DEFAULT_IMAGE
    layer = debian_base.layers[0]
    for tool in ("bash", "git", "curl", "sudo", "ssh", "ip", "ps", "less"):
        assert any((layer / d / tool).exists() for d in ("usr/bin", "usr/sbin", "bin", "sbin"))
    assert not list((layer / "etc" / "ssh").glob("ssh_host_*"))
    assert debian_base.config.labels["org.roost.packages"] == ",".join(DEFAULT_PACKAGES)
    # what VS Code's server install expects: a non-root user, wget, sudo set up for that user
    assert "dev:x:1000:1000::/home/dev:/bin/bash" in (layer / "etc" / "passwd").read_text()
    assert (layer / "home" / "dev").stat().st_uid == 1000
    assert (layer / "usr" / "bin" / "wget").exists()
    rule = layer / "etc" / "sudoers.d" / "roost-dev"
    assert (
        rule.read_text() == "dev ALL=(ALL) NOPASSWD:ALL\n" and rule.stat().st_mode & 0o777 == 0o440
    )
