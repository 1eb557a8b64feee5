"""Test images, made here: no container registry is reachable from CI.

* ``busybox_rootfs(dir)``: a tiny root filesystem from Debian's busybox-static, with applet
  symlinks (sh, ls, id, cat, sleep...), a setuid file, a file owned by 1000:1000, a hard link,
  a device node (as root) and an xattr, so tests can check that unpacking keeps all of those.
* ``build_layout(dir)``: an OCI image layout (made with ``umoci``) with two tags that share their
  bottom layer: ``busybox`` (one layer) and ``tools`` (that layer, plus ``/opt/tools/hello``, a
  whiteout of ``/etc/motd`` and an opaque ``/var/cache``).
* ``push``, ``docker_archive``, ``rootfs_tarball``: the same images as skopeo pushes or exports
  them, and as a plain tarball.

Fixtures (import them into a conftest.py to use them):

* ``sample_images`` (session): the layout and rootfs above (needs root: umoci keeps ownership).
* ``debian_base`` (session): an :class:`Image` of Debian bookworm built with ``build_base`` and
  ``DEFAULT_PACKAGES``, cached in ``/var/tmp/roost-test-cache/images`` so a machine builds it at
  most once (about 20-40 s) whatever the number of test sessions; concurrent sessions wait for
  the one that builds. Rebuilt when ``DEFAULT_PACKAGES`` changes. Needs root.
"""

import asyncio
import fcntl
import os
import shutil
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from roost.runner.images import DEFAULT_IMAGE, DEFAULT_PACKAGES, Image, ImageStore

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "ls", "id", "cat", "sleep", "echo", "true", "false", "env", "mkdir", "rm", "stat")
CACHE_DIR = Path("/var/tmp/roost-test-cache")
BUILD_TIMEOUT_S = 600


@dataclass(frozen=True)
class SampleImages:
    layout: Path
    """OCI layout with tags ``busybox`` and ``tools``."""
    rootfs: Path
    """The busybox root filesystem the ``busybox`` tag was made from."""


def busybox_rootfs(rootfs: Path) -> Path:
    for d in ("bin", "etc", "tmp", "dev", "home/user", "usr/bin", "var/cache/old"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
    )
    (rootfs / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\n")
    (rootfs / "etc" / "motd").write_text("hello from busybox\n")
    os.link(rootfs / "etc" / "motd", rootfs / "etc" / "motd.hardlink")
    (rootfs / "var" / "cache" / "old" / "stale").write_text("stale\n")
    secret = rootfs / "home" / "user" / "secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o640)
    suid = rootfs / "usr" / "bin" / "suid-tool"
    suid.write_text("#!/bin/sh\nid\n")
    suid.chmod(0o4755)
    (rootfs / "tmp").chmod(0o1777)
    os.setxattr(rootfs / "etc" / "motd", "user.roost", b"kept")
    if os.geteuid() == 0:
        os.chown(secret, 1000, 1000)
        os.chown(rootfs / "home" / "user", 1000, 1000)
        os.mknod(rootfs / "dev" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return rootfs


def build_layout(work: Path) -> SampleImages:
    rootfs = busybox_rootfs(work / "rootfs")
    layout = work / "oci"
    oci = str(layout)  # umoci's --image is PATH:TAG (skopeo's is oci:PATH:TAG)
    _run("umoci", "init", "--layout", str(layout))
    _run("umoci", "new", "--image", f"{oci}:busybox")
    _run("umoci", "insert", "--no-history", "--image", f"{oci}:busybox", str(rootfs), "/")
    _run(
        "umoci",
        "config",
        "--image",
        f"{oci}:busybox",
        "--config.cmd",
        "/bin/sh",
        "--config.env",
        "GREETING=hi",
        "--config.label",
        "org.example=busybox",
    )
    extra = work / "tools"
    (extra / "opt" / "tools").mkdir(parents=True)
    (extra / "opt" / "tools" / "hello").write_text("#!/bin/sh\necho hello\n")
    (extra / "opt" / "tools" / "hello").chmod(0o755)
    (extra / "var" / "cache").mkdir(parents=True)
    (extra / "var" / "cache" / "fresh").write_text("fresh\n")
    _run(
        "umoci",
        "insert",
        "--no-history",
        "--image",
        f"{oci}:busybox",
        "--tag",
        "tools",
        str(extra / "opt"),
        "/opt",
    )
    _run("umoci", "insert", "--no-history", "--image", f"{oci}:tools", "--whiteout", "/etc/motd")
    _run(
        "umoci",
        "insert",
        "--no-history",
        "--image",
        f"{oci}:tools",
        "--opaque",
        str(extra / "var" / "cache"),
        "/var/cache",
    )
    return SampleImages(layout=layout, rootfs=rootfs)


def push(layout: Path, tag: str, destination: str) -> None:
    """Push ``layout:tag`` to ``destination`` (``host:port/repo:tag``) over plain HTTP."""
    _run(
        "skopeo",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        f"oci:{layout}:{tag}",
        f"docker://{destination}",
    )


def docker_archive(layout: Path, tag: str, dest: Path, name: str) -> Path:
    """Export ``layout:tag`` as ``docker save`` would (skopeo's docker-archive)."""
    _run("skopeo", "copy", "--quiet", f"oci:{layout}:{tag}", f"docker-archive:{dest}:{name}")
    return dest


def oci_archive(layout: Path, dest: Path) -> Path:
    """The whole layout as one tar (``oci-archive``-like)."""
    _run("tar", "--create", f"--file={dest}", f"--directory={layout}", ".")
    return dest


def rootfs_tarball(rootfs: Path, dest: Path, compression: str = "") -> Path:
    """``tar -C rootfs -c .`` with an optional compressor (``gzip`` or ``zstd``)."""
    _run(
        "tar",
        "--create",
        "--numeric-owner",
        "--xattrs",
        "--xattrs-include=*",
        f"--file={dest}",
        f"--directory={rootfs}",
        ".",
    )
    if compression:
        _run(compression, "-q", "--force", str(dest))  # writes dest.gz / dest.zst
        compressed = dest.with_name(dest.name + (".gz" if compression == "gzip" else ".zst"))
        dest.unlink(missing_ok=True)
        return compressed
    return dest


def _run(*argv: str) -> None:
    done = subprocess.run(
        argv, check=False, stdin=subprocess.DEVNULL, capture_output=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")


@pytest.fixture(scope="session")
def sample_images(tmp_path_factory: pytest.TempPathFactory) -> SampleImages:
    if os.geteuid() != 0:
        pytest.skip("building the sample images needs root (umoci keeps ownership)")
    return build_layout(tmp_path_factory.mktemp("sample-images"))


def _cached_base() -> Image:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building it: wait for it
        store = ImageStore(CACHE_DIR / "images")

        async def get_or_build() -> Image:
            image = await store.get(DEFAULT_IMAGE)
            wanted = ",".join(DEFAULT_PACKAGES)
            if image is not None and image.config.labels.get("org.roost.packages") == wanted:
                return image
            # No gc() afterwards: another session may still run environments on the old layer.
            return await store.build_base(DEFAULT_IMAGE)

        # In a thread of its own: asyncio.run must not touch the loop pytest-asyncio set up.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, get_or_build()).result(timeout=BUILD_TIMEOUT_S)


@pytest.fixture(scope="session")
def debian_base() -> Image:
    if os.geteuid() != 0:
        pytest.skip("building the Debian base image needs root (mmdebstrap)")
    return _cached_base()
