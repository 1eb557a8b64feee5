"""Feature references, options and their environment variables."""

import json
from pathlib import Path
from typing import Any

import pytest

from roost.runner.devcontainer.feature_oci import FeatureError
from roost.runner.devcontainer.features import (
    Feature,
    kind_of,
    local_folder,
    option_env,
    safe_name,
    user_options,
)

OPTIONS = {
    "version": {"type": "string", "default": "latest", "proposals": ["latest", "1"]},
    "installTools": {"type": "boolean", "default": True},
    "size": {"type": "string", "enum": ["s", "m"], "default": "s"},
}


def feature(options: dict[str, Any], declared: dict[str, Any] = OPTIONS) -> Feature:
    return Feature(
        user_id="./f", kind="local", resource="/r/f", tag="", digest="", folder=Path("/r/f"),
        metadata={"id": "f", "options": declared}, options=options,
    )  # fmt: skip


def test_safe_names_follow_the_specification() -> None:
    assert safe_name("installTools") == "INSTALLTOOLS"
    assert safe_name("foo.bar-baz") == "FOO_BAR_BAZ"
    assert safe_name("9-lives") == "_LIVES"
    assert safe_name("_private") == "_PRIVATE"


def test_values_become_option_objects() -> None:
    assert user_options(True) == {}
    assert user_options("1.2") == {"version": "1.2"}
    assert user_options({"a": 1}) == {"a": 1}


def test_every_declared_option_is_set_with_defaults() -> None:
    assert option_env(feature({"version": "1", "installTools": False})) == {
        "VERSION": "1", "INSTALLTOOLS": "false", "SIZE": "s",
    }  # fmt: skip
    assert option_env(feature({"version": "custom"}))["VERSION"] == "custom"  # proposals only


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "red"}, "feature './f' has no option 'colour' (its options: installTools, "
                            "size, version)"),
        ({"size": "xl"}, "feature './f', option 'size': 'xl' is not one of s, m"),
        ({"installTools": "maybe"}, "feature './f', option 'installTools': 'maybe' is not a "
                                    "boolean"),
        ({"version": "1\nRUN x"}, "feature './f', option 'version': the value may not contain "
                                  "newlines"),
    ],
)  # fmt: skip
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(FeatureError) as caught:
        option_env(feature(options))
    assert caught.value.message == message


def test_reference_kinds() -> None:
    assert kind_of("./local") == "local" and kind_of("../up") == "local"
    assert kind_of("ghcr.io/devcontainers/features/node:1") == "oci"
    with pytest.raises(FeatureError, match="tarball URLs are not supported"):
        kind_of("https://example.com/f.tgz")
    with pytest.raises(FeatureError, match="neither an OCI reference"):
        kind_of("node")


def test_local_features_stay_inside_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".devcontainer" / "f").mkdir(parents=True)
    (repo / ".devcontainer" / "f" / "devcontainer-feature.json").write_text(json.dumps({"id": "f"}))
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "devcontainer-feature.json").write_text("{}")
    config_dir = repo / ".devcontainer"
    assert local_folder("./f", config_dir, repo) == config_dir / "f"
    with pytest.raises(FeatureError, match=r"'\.\./\.\./outside' is outside the repository"):
        local_folder("../../outside", config_dir, repo)
    with pytest.raises(FeatureError, match=r"'\./g' not found: \.devcontainer/g has no"):
        local_folder("./g", config_dir, repo)
