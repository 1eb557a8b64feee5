"""Building from a Dockerfile with buildah (root): bases from Roost's store and from a registry,
layer caching, target and args, isolation, and the errors a user gets."""

import json
import re
import time
from pathlib import Path

import pytest

from roost.core.errors import PermanentError
from roost.runner.devcontainer.buildah import BuildahBuilder
from roost.runner.images import Image
from tests.runner.conftest import BUSYBOX_FULL, shared_image_store
from tests.runner.devcontainer.support import make_repo, resolve
from tests.support.registry import Registry

pytestmark = pytest.mark.root
CONFIG = '{"build": {"dockerfile": "Dockerfile"}}'


class Log:
    def __init__(self) -> None:
        self.text = ""

    def __call__(self, text: str) -> None:
        self.text += text


def find(image: Image, path: str) -> Path | None:
    """``path`` in the image as the overlay would show it (top layer first)."""
    for layer in reversed(image.layers):
        if (layer / path.lstrip("/")).exists():
            return layer / path.lstrip("/")
    return None


async def build(builder: BuildahBuilder, repo: Path, log: Log | None = None) -> Image:
    ref = await builder.build(resolve(repo), BUSYBOX_FULL, "envtest", log or Log())
    image = await shared_image_store().get(ref)
    assert image is not None
    return image


async def test_dockerfile_on_an_image_from_the_store(
    builder: BuildahBuilder, busybox_full: Image, tmp_path: Path
) -> None:
    dockerfile = f"FROM {BUSYBOX_FULL}\nRUN echo built > /built\nCOPY hello.txt /hello.txt\n"
    repo = make_repo(tmp_path / "repo", {".devcontainer/devcontainer.json": CONFIG,
                                         ".devcontainer/Dockerfile": dockerfile,
                                         ".devcontainer/hello.txt": "hello\n"})  # fmt: skip
    image = await build(builder, repo)
    assert image.ref.startswith("roost.local/build:")
    built, hello = find(image, "/built"), find(image, "/hello.txt")
    assert built is not None and built.read_text() == "built\n"
    assert hello is not None and hello.read_text() == "hello\n"
    assert hello.stat().st_uid == 0  # COPY gives root, not the workspace's on-disk owner
    assert image.layers[0] == busybox_full.layers[0]  # the store keeps its base layer once


async def test_an_unchanged_dockerfile_reuses_every_layer(
    builder: BuildahBuilder, busybox_full: Image, tmp_path: Path
) -> None:
    dockerfile = (f"FROM {BUSYBOX_FULL}\nRUN echo step-$((40+1)) && date +%s%N > /one\n"
                  "RUN echo step-$((40+2)) && date +%s%N > /two\n")  # fmt: skip
    repo = make_repo(tmp_path / "repo", {".devcontainer/devcontainer.json": CONFIG,
                                         ".devcontainer/Dockerfile": dockerfile})  # fmt: skip
    cold, warm = Log(), Log()
    started = time.perf_counter()
    first = await build(builder, repo, cold)
    cold_s = time.perf_counter() - started
    layers_before = set(shared_image_store().layers.diff_ids())
    started = time.perf_counter()
    second = await build(builder, repo, warm)
    warm_s = time.perf_counter() - started
    print(f"\ncold build {cold_s:.2f} s, warm build {warm_s:.2f} s")
    assert "step-41\n" in cold.text and "step-42\n" in cold.text  # what the RUNs printed
    assert "step-4" not in warm.text.replace("step-$((", "")  # no RUN ran again
    assert warm.text.count("Using cache") == 2
    assert second.ref == first.ref and second.layers == first.layers
    assert set(shared_image_store().layers.diff_ids()) == layers_before  # nothing stored twice


async def test_target_and_build_args(
    builder: BuildahBuilder, busybox_full: Image, tmp_path: Path
) -> None:
    dockerfile = (
        f"ARG BASE={BUSYBOX_FULL}\nFROM $BASE AS tools\nARG FLAVOUR=plain\n"
        "RUN echo tools-$FLAVOUR > /stage\n"
        "FROM ${BASE} AS final\nRUN echo final > /stage\n"
    )
    config = ('{"build": {"dockerfile": "Dockerfile", "target": "tools",'
              ' "args": {"FLAVOUR": "spicy"}}}')  # fmt: skip
    repo = make_repo(tmp_path / "repo", {".devcontainer/devcontainer.json": config,
                                         ".devcontainer/Dockerfile": dockerfile})  # fmt: skip
    stage = find(await build(builder, repo), "/stage")
    assert stage is not None and stage.read_text() == "tools-spicy\n"


async def test_a_base_image_from_a_registry_keeps_its_whiteouts(
    builder: BuildahBuilder, registry: Registry, tmp_path: Path
) -> None:
    """``tools`` deletes /etc/motd and makes /var/cache opaque in its top layer: buildah must
    see the same tree the environment would (the store's layers, packed back into tars)."""
    dockerfile = (
        f"FROM {registry.host}/tools:latest\n"
        "RUN test ! -e /etc/motd && ls /var/cache > /cache-seen && /opt/tools/hello > /said\n"
    )
    context = "build context: the repository root"
    config = '{"build": {"dockerfile": "Dockerfile", "context": ".."}}'
    repo = make_repo(tmp_path / "repo", {".devcontainer/devcontainer.json": config,
                                         ".devcontainer/Dockerfile": dockerfile,
                                         "README": context})  # fmt: skip
    image = await build(builder, repo)
    seen, said = find(image, "/cache-seen"), find(image, "/said")
    assert seen is not None and seen.read_text() == "fresh\n"
    assert said is not None and said.read_text() == "hello\n"


async def test_build_steps_run_unprivileged_and_offline_without_a_network(
    builder: BuildahBuilder, busybox_full: Image, tmp_path: Path
) -> None:
    dockerfile = (
        f"FROM {BUSYBOX_FULL}\n"
        "RUN cat /proc/self/uid_map > /uid_map && tail -n +3 /proc/net/dev | cut -d: -f1 > /links\n"
    )
    repo = make_repo(tmp_path / "repo", {".devcontainer/devcontainer.json": CONFIG,
                                         ".devcontainer/Dockerfile": dockerfile})  # fmt: skip
    image = await build(builder, repo)
    uid_map, links = find(image, "/uid_map"), find(image, "/links")
    assert uid_map is not None and links is not None
    inside, outside, size = uid_map.read_text().split()
    assert (inside, size) == ("0", "65536") and int(outside) >= 1 << 24  # root is not root
    assert outside == str(builder.buildah.base)
    assert links.read_text().split() == ["lo"]  # no network at all without one given


async def test_a_missing_dockerfile_is_named(builder: BuildahBuilder, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {".devcontainer/devcontainer.json": CONFIG})
    with pytest.raises(PermanentError) as caught:
        await build(builder, repo)
    assert caught.value.message == ".devcontainer/Dockerfile not found (build.dockerfile)"


async def test_a_failing_step_names_the_instruction_and_shows_its_output(
    builder: BuildahBuilder, busybox_full: Image, tmp_path: Path
) -> None:
    dockerfile = (
        f"FROM {BUSYBOX_FULL}\nRUN echo fine\n"
        "RUN echo compiling && \\\n    echo 'error: no such thing' && exit 3\n"
    )
    repo = make_repo(tmp_path / "repo", {".devcontainer/devcontainer.json": CONFIG,
                                         ".devcontainer/Dockerfile": dockerfile})  # fmt: skip
    log = Log()
    with pytest.raises(PermanentError) as caught:
        await build(builder, repo, log)
    message = caught.value.message
    assert message.startswith(
        "the image build failed at `RUN echo compiling && echo 'error: no such thing' && exit 3`"
        " (.devcontainer/Dockerfile:3) with exit status 3; last output:\n"
    )
    assert "  compiling\n  error: no such thing\n" in message
    assert message.endswith("full log: `roost env logs envtest --step build`")
    assert re.search(r"STEP 3/3: RUN echo compiling", log.text)  # the whole log is kept


async def test_legacy_properties_and_cache_from(
    builder: BuildahBuilder, busybox_full: Image, registry: Registry, tmp_path: Path
) -> None:
    """``dockerFile``/``context`` still work; ``cacheFrom`` images are handed to buildah (its
    layer cache may use them), and one that cannot be had is only a warning."""
    config = {
        "dockerFile": "../docker/Dockerfile",
        "context": "../docker",
        "build": {"cacheFrom": [f"{registry.host}/busybox:latest", f"{registry.host}/gone:1"]},
    }
    dockerfile = f"FROM {BUSYBOX_FULL}\nCOPY note /note\n"
    repo = make_repo(tmp_path / "repo", {".devcontainer/devcontainer.json": json.dumps(config),
                                         "docker/Dockerfile": dockerfile,
                                         "docker/note": "legacy\n"})  # fmt: skip
    log = Log()
    note = find(await build(builder, repo, log), "/note")
    assert note is not None and note.read_text() == "legacy\n"
    assert f"==> handing {registry.host}/busybox:latest to the builder" in log.text
    assert f"==> cacheFrom {registry.host}/gone:1 skipped: image 'gone' not found" in log.text
