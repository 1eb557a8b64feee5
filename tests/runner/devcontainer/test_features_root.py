"""Features (root): local and registry features with options, in the specification's order,
each in its own cached layer, with their metadata in the image's label; and their errors."""

import json
from pathlib import Path
from typing import Any

import pytest

from roost.core.errors import PermanentError, TemporaryError
from roost.runner.devcontainer.buildah import BuildahBuilder
from roost.runner.images import Image
from tests.runner.conftest import BUSYBOX_FULL, shared_image_store
from tests.runner.devcontainer.support import feature_files, make_repo, push_feature, resolve
from tests.runner.devcontainer.test_build_root import Log, find
from tests.support.registry import Registry

pytestmark = pytest.mark.root
RECORD = 'echo "$FEATURE_NAME" >> /order\n'


def recording(name: str, extra: str = "", **metadata: Any) -> dict[str, str]:
    """A feature that appends its name to /order (and runs ``extra``)."""
    files = feature_files(name, f"FEATURE_NAME={name}\n{RECORD}{extra}", **metadata)
    return {k: v for k, v in files.items()}


async def build(
    builder: BuildahBuilder, tmp_path: Path, config: dict[str, Any], files: dict[str, str],
    log: Log | None = None,
) -> Image:  # fmt: skip
    repo = tmp_path / "repo"
    if not repo.exists():
        make_repo(repo, {})
    written = {".devcontainer/devcontainer.json": json.dumps({"image": BUSYBOX_FULL, **config})}
    written.update({f".devcontainer/{k}": v for k, v in files.items()})
    for rel, text in written.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    ref = await builder.build(resolve(repo), BUSYBOX_FULL, "envtest", log or Log())
    image = await shared_image_store().get(ref)
    assert image is not None
    return image


def text(image: Image, path: str) -> str:
    found = find(image, path)
    assert found is not None, path
    return found.read_text()


async def test_a_local_feature_with_options_env_and_metadata(
    builder: BuildahBuilder, busybox_full: Image, tmp_path: Path
) -> None:
    options = {"greeting": {"type": "string", "default": "hi"},
               "loud": {"type": "boolean", "default": False},
               "9-lives": {"type": "string", "default": "cat"}}  # fmt: skip
    install = 'echo "$GREETING|$LOUD|$_LIVES|$_REMOTE_USER|$_REMOTE_USER_HOME" > /hello\n'
    files = feature_files(
        "hello", install, options=options, containerEnv={"HELLO_HOME": "/opt/hello",
        "PATH": "/opt/hello/bin:${PATH}"}, postCreateCommand="echo created > /tmp/created",
        capAdd=["SYS_PTRACE"], customizations={"vscode": {"extensions": ["x.y"]}},
    )  # fmt: skip
    config = {"features": {"./hello": {"greeting": "hey there"}}}
    image = await build(builder, tmp_path, config, files)
    assert text(image, "/hello") == "hey there|false|cat|root|/root\n"
    env = dict(e.split("=", 1) for e in image.config.env)
    assert env["HELLO_HOME"] == "/opt/hello"
    assert env["PATH"].startswith("/opt/hello/bin:/usr/local/sbin:")  # ${PATH} expanded
    label = json.loads(image.config.labels["devcontainer.metadata"])
    assert label == [{"id": "./hello", "postCreateCommand": "echo created > /tmp/created",
                      "capAdd": ["SYS_PTRACE"],
                      "customizations": {"vscode": {"extensions": ["x.y"]}}}]  # fmt: skip


async def test_registry_and_local_features_install_in_the_specifications_order(
    builder: BuildahBuilder, busybox_full: Image, registry: Registry, tmp_path: Path
) -> None:
    """``a`` installs after ``b`` (soft); ``b`` depends on ``c`` (hard, not listed by the
    user: installed anyway, with the options ``b`` gives); ``./local`` has no constraints."""
    base = f"{registry.host}/features"
    await push_feature(registry.url, "features/c", "1", {
        k.removeprefix("c/"): v for k, v in recording(
            "c", 'echo "c:$FLAVOUR" >> /order\n',
            options={"flavour": {"type": "string", "default": "plain"}},
        ).items()
    })  # fmt: skip
    await push_feature(registry.url, "features/b", "1", {
        k.removeprefix("b/"): v
        for k, v in recording("b", dependsOn={f"{base}/c:1": {"flavour": "salty"}}).items()
    })  # fmt: skip
    await push_feature(registry.url, "features/a", "1", {
        k.removeprefix("a/"): v
        for k, v in recording("a", installsAfter=[f"{base}/b"]).items()
    })  # fmt: skip
    config: dict[str, Any] = {"features": {f"{base}/a:1": {}, "./local": True, f"{base}/b:1": {}}}
    image = await build(builder, tmp_path, config, recording("local"))
    # round 1: c and ./local are ready, sorted by id ("./" before "1"); then b; then a
    assert text(image, "/order").split() == ["local", "c", "c:salty", "b", "a"]
    label = json.loads(image.config.labels["devcontainer.metadata"])
    assert [e["id"] for e in label] == ["./local", f"{base}/c:1", f"{base}/b:1", f"{base}/a:1"]

    config["overrideFeatureInstallOrder"] = [f"{base}/c", "./local"]
    image = await build(builder, tmp_path, config, recording("local"))
    # priorities c=2, ./local=1: of the ready ones, only the highest goes in each round
    assert text(image, "/order").split() == ["c", "c:salty", "local", "b", "a"]


async def test_changing_the_last_feature_reuses_the_layers_before_it(
    builder: BuildahBuilder, busybox_full: Image, tmp_path: Path
) -> None:
    files = {**recording("first", "echo ran-$((1+1))\n"), **recording(
        "second", options={"colour": {"type": "string", "default": "red"}})}  # fmt: skip
    config: dict[str, Any] = {"features": {"./first": {}, "./second": {}},
                              "overrideFeatureInstallOrder": ["./first"]}  # fmt: skip
    cold = Log()
    await build(builder, tmp_path, config, files, cold)
    assert "ran-2\n" in cold.text
    config["features"]["./second"] = {"colour": "blue"}
    warm = Log()
    image = await build(builder, tmp_path, config, files, warm)
    assert "ran-2\n" not in warm.text  # the first feature did not run again
    assert "==> installing feature second\n" in warm.text  # the second did
    assert text(image, "/order").split() == ["first", "second"]


async def test_feature_errors_say_what_to_fix(
    builder: BuildahBuilder, busybox_full: Image, registry: Registry, tmp_path: Path
) -> None:
    files = recording("opts", options={"size": {"type": "string", "enum": ["s", "m"]}})
    with pytest.raises(PermanentError) as caught:
        await build(builder, tmp_path, {"features": {"./opts": {"colour": "red"}}}, files)
    assert caught.value.message == "feature './opts' has no option 'colour' (its options: size)"
    with pytest.raises(PermanentError) as caught:
        await build(builder, tmp_path, {"features": {"./opts": {"size": "xl"}}}, files)
    assert caught.value.message == "feature './opts', option 'size': 'xl' is not one of s, m"
    with pytest.raises(PermanentError) as caught:
        await build(builder, tmp_path, {"features": {"./nowhere": {}}}, {})
    assert "feature './nowhere' not found" in caught.value.message
    with pytest.raises(PermanentError) as caught:
        await build(builder, tmp_path, {"features": {f"{registry.host}/no/such:1": {}}}, {})
    assert caught.value.message.startswith(f"feature '{registry.host}/no/such:1': ")
    assert "not found" in caught.value.message


async def test_a_failing_feature_is_named(
    builder: BuildahBuilder, busybox_full: Image, tmp_path: Path
) -> None:
    files = feature_files("broken", "echo 'cannot install broken' >&2\nexit 4\n")
    with pytest.raises(PermanentError) as caught:
        await build(builder, tmp_path, {"features": {"./broken": {}}}, files)
    assert caught.value.message.startswith(
        "feature './broken' failed to install (install.sh exit status 4); last output:\n"
    )
    assert "cannot install broken" in caught.value.message


async def test_a_registry_that_is_down_is_retried(
    builder: BuildahBuilder, busybox_full: Image, empty_registry: Registry, tmp_path: Path
) -> None:
    empty_registry.stop()
    config: dict[str, Any] = {"features": {f"{empty_registry.host}/features/gone:1": {}}}
    with pytest.raises(TemporaryError) as caught:
        await build(builder, tmp_path, config, {})
    assert "unreachable" in caught.value.message
