"""buildah runs on a fresh host (root): one without the directories a root buildah leaves behind.

The build runs in a private mount namespace whose ``/var/cache`` is an empty tmpfs, so the host's
``/var/cache/containers`` (present wherever buildah once ran as root) cannot help it.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

BUILD = """
import asyncio, sys
from pathlib import Path
from roost.runner.devcontainer.buildahrun import Buildah
from roost.runner.idalloc import IdAllocator

root = Path(sys.argv[1])
b = Buildah(root / "b", IdAllocator(root / "ids"))
b.setup()
result = asyncio.run(b.run(["images"]))
print(result.output)
sys.exit(result.code)
"""


def test_a_build_needs_no_host_directory_it_did_not_make(tmp_path: Path) -> None:
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (apt-get install buildah)")
    script = 'mount -t tmpfs tmpfs /var/cache && test ! -e /var/cache/containers && exec "$@"'
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
         sys.executable, "-c", BUILD, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "REPOSITORY" in done.stdout  # buildah itself ran and answered
