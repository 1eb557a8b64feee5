"""The environment init (``roost-init.c``), built static once per runner data directory.

Building it on the runner host keeps binaries out of the repository and needs only a C
compiler and static libc (Debian: gcc, libc6-dev), which the host check asks for. The result is
cached by the source's hash, so a new Roost version with a changed init rebuilds it.
"""

import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path


class InitBuildError(Exception):
    pass


def source() -> bytes:
    return (resources.files(__package__) / "roost-init.c").read_bytes()


def ensure(bin_dir: Path) -> Path:
    """Path of a built init for the current source, building it if needed."""
    digest = hashlib.sha256(source()).hexdigest()[:16]
    target = bin_dir / f"roost-init-{digest}"
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise InitBuildError(
            "no C compiler to build the environment init: apt-get install gcc libc6-dev"
        )
    bin_dir.mkdir(parents=True, exist_ok=True)
    src = bin_dir / "roost-init.c"
    src.write_bytes(source())
    tmp = target.with_suffix(".tmp")
    result = subprocess.run(
        [compiler, "-static", "-Os", "-s", "-o", str(tmp), str(src)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise InitBuildError(
            "building the environment init failed (is libc6-dev installed?): "
            + result.stderr.strip()
        )
    os.chmod(tmp, 0o755)  # noqa: S103 - a program every environment runs; not secret
    os.replace(tmp, target)
    return target
