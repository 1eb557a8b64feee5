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
    return build_static(bin_dir, "roost-init", source(), InitBuildError, "the environment init")


def build_static(bin_dir: Path, name: str, code: bytes, error: type[Exception], what: str) -> Path:
    """``<bin_dir>/<name>-<digest of code>``: a static binary built from C ``code`` once per
    version of it (a new version gets a new name; running environments keep the old one)."""
    target = bin_dir / f"{name}-{hashlib.sha256(code).hexdigest()[:16]}"
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise error(f"no C compiler to build {what}: apt-get install gcc libc6-dev")
    bin_dir.mkdir(parents=True, exist_ok=True)
    src = bin_dir / f"{name}.c"
    src.write_bytes(code)
    tmp = target.with_suffix(".tmp")
    result = subprocess.run(
        [compiler, "-static", "-Os", "-s", "-o", str(tmp), str(src)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise error(f"building {what} failed (is libc6-dev installed?): {result.stderr.strip()}")
    os.chmod(tmp, 0o755)  # noqa: S103 - a program every environment runs; not secret
    os.replace(tmp, target)
    return target
