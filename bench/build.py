"""bench/build.py -- what does building a devcontainer image with buildah cost?

A Dockerfile on the Debian base image (three ``RUN``s and a ``COPY``, no network) plus one local
feature, built by Roost's builder (:mod:`roost.runner.devcontainer.buildah`):

* cold: a fresh builder (empty buildah storage), so the 300 MB base is handed to buildah first
  (timed apart: ``handover``), then the build, the feature and the import into the store;
* warm: the same again (every layer cached; the image is already in the store);
* edited: the last ``RUN`` changed (one step re-runs, the feature after it too).

Beside them, the same Dockerfile with plain rootful buildah (no user namespace: what Roost does
not do, for the cost of the isolation) and with buildah's own ``--userns-uid-map`` (the option
Roost rejected: it copies the base for every build), both on storage that already holds the
base image.

Run as root from the repository root: ``.venv/bin/python -m bench.build``.
"""

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.runner.devcontainer.support import feature_files, make_repo, resolve
from tests.support.images import CACHE_DIR, _cached_base

from bench.stack import write
from roost.runner.devcontainer.buildah import BuildahBuilder
from roost.runner.idalloc import IdAllocator
from roost.runner.images import DEFAULT_IMAGE, ImageStore

DOCKERFILE = f"""FROM {DEFAULT_IMAGE}
RUN mkdir -p /opt/app && for i in $(seq 1 500); do echo $i > /opt/app/f$i; done
RUN useradd -m -s /bin/bash dev && echo 'dev ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/dev
COPY app.txt /opt/app/app.txt
RUN echo {{marker}} > /opt/app/marker
"""
CONFIG = {"build": {"dockerfile": "Dockerfile"}, "features": {"./tool": {"version": "2"}}}


def repository(root: Path, marker: str) -> Path:
    tool = feature_files("tool", "mkdir -p /opt/tool && echo $VERSION > /opt/tool/v\n",
                         options={"version": {"type": "string", "default": "1"}})  # fmt: skip
    files = {
        ".devcontainer/devcontainer.json": json.dumps(CONFIG),
        ".devcontainer/Dockerfile": DOCKERFILE.replace("{marker}", marker),
        ".devcontainer/app.txt": "app\n",
        **{f".devcontainer/{k}": v for k, v in tool.items()},
    }
    shutil.rmtree(root, ignore_errors=True)
    return make_repo(root, files)


async def timed(builder: BuildahBuilder, repo: Path) -> float:
    started = time.perf_counter()
    await builder.build(resolve(repo), DEFAULT_IMAGE, "bench", lambda _: None)
    return time.perf_counter() - started


async def ours(work: Path, store: ImageStore) -> dict[str, float]:
    builder = BuildahBuilder(work / "builder", store, IdAllocator(work / "ids"))
    await builder._setup()
    started = time.perf_counter()
    await builder.provide(DEFAULT_IMAGE, lambda _: None)
    handover = time.perf_counter() - started
    repo = repository(work / "repo", "one")
    cold = await timed(builder, repo)
    warm = [await timed(builder, repo) for _ in range(3)]
    edited = await timed(builder, repository(work / "repo", "two"))
    return {"handover_s": round(handover, 2), "cold_build_s": round(cold, 2),
            "cold_total_s": round(handover + cold, 2), "warm_s": round(min(warm), 2),
            "edited_last_run_s": round(edited, 2)}  # fmt: skip


def plain_buildah(work: Path, layout: Path, tag: str, userns: bool) -> dict[str, float]:
    """Rootful buildah on its own storage (base loaded first, not timed)."""
    root = work / ("userns" if userns else "plain")
    base = ["buildah", "--root", str(root / "s"), "--runroot", str(root / "r")]
    pulled = subprocess.run([*base, "pull", "-q", f"oci:{layout}:{tag}"], check=False,
                            capture_output=True, text=True)  # fmt: skip
    if pulled.returncode != 0:
        raise RuntimeError(f"buildah pull: {pulled.stderr}")
    image = pulled.stdout.strip()
    subprocess.run([*base, "tag", image, DEFAULT_IMAGE], check=True, capture_output=True)
    if userns:  # containers/storage's idmapped path commits shifted owners: use its copy path
        (root / "r" / "overlay").mkdir(parents=True, exist_ok=True)
        (root / "r" / "overlay" / "idmapped-lower-dir-false").touch()
        for f in (root / "r" / "overlay").glob("idmapped-lower-dir-true"):
            f.unlink()
    ctx = repository(work / "ctx", "one") / ".devcontainer"
    flags = ["--userns-uid-map=0:3000000:65536", "--userns-gid-map=0:3000000:65536"]
    argv = [*base, "bud", "--layers", "--pull=never", "--network=none", "--isolation=oci",
            *(flags if userns else []), "-q", str(ctx)]  # fmt: skip
    times = []
    for _ in range(2):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    du = subprocess.run(["du", "-sxm", str(root / "s")], capture_output=True, text=True, check=True)
    grown = int(du.stdout.split()[0])
    subprocess.run([*base, "rm", "-a"], capture_output=True, check=False)
    subprocess.run([*base, "rmi", "-af"], capture_output=True, check=False)
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        point = line.split()[4]
        if point.startswith(str(root)):
            subprocess.run(["umount", point], check=False)
    return {"cold_s": round(times[0], 2), "warm_s": round(times[1], 2), "storage_mib": grown}


async def main() -> dict[str, Any]:
    _cached_base()
    store = ImageStore(CACHE_DIR / "images")
    with tempfile.TemporaryDirectory(prefix="bench-build.", dir="/var/tmp") as tmp:
        work = Path(tmp)
        result = {"roost": await ours(work, store)}
        layout = work / "builder" / "layout"
        entry = json.loads((layout / "index.json").read_text())["manifests"][0]
        tag = entry["annotations"]["org.opencontainers.image.ref.name"]
        result["rootful_buildah_no_userns"] = plain_buildah(work, layout, tag, userns=False)
        result["rootful_buildah_userns_copy"] = plain_buildah(work, layout, tag, userns=True)
    for image in store.list():
        if image.ref.startswith("roost.local/build:"):
            await store.remove(image.ref)
    return result


if __name__ == "__main__":
    doc = asyncio.run(main())
    print(json.dumps(doc, indent=2))
    print(write("build", doc))
