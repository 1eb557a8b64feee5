from pathlib import Path

import pytest

from roost.core.devcontainer import jsonc, locate, readconf
from roost.core.devcontainer.substitute import Variables, devcontainer_id, substitute


def test_comments_and_trailing_commas_keep_line_numbers() -> None:
    text = '{\n  // a comment\n  "a": "http://x/y", /* more */\n  "b": [1, 2,],\n}\n'
    assert jsonc.loads(text) == {"a": "http://x/y", "b": [1, 2]}


def test_broken_json_names_file_line_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "devcontainer.json"
    path.write_text('{\n  "image": "x"\n  "name": "y"\n}\n')
    with pytest.raises(jsonc.ConfigError) as info:
        readconf.resolve(path, tmp_path)
    assert str(info.value).startswith(f"{path}:3: Expecting ',' delimiter")


def test_wrong_types_name_the_property_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "devcontainer.json"
    path.write_text('{\n  "image": "x",\n  "forwardPorts": {"no": "list"}\n}\n')
    with pytest.raises(jsonc.ConfigError) as info:
        readconf.resolve(path, tmp_path)
    assert f"{path}:3: forwardPorts" in str(info.value)


def test_unknown_properties_warn_and_compose_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "devcontainer.json"
    path.write_text('{"image": "x",\n "mystery": 1}')
    assert readconf.resolve(path, tmp_path).warnings == [
        f"{path}:2: unknown property 'mystery' (ignored)"
    ]
    path.write_text('{"dockerComposeFile": "c.yml", "service": "app"}')
    with pytest.raises(jsonc.ConfigError, match="Docker Compose"):
        readconf.resolve(path, tmp_path)


def test_locate_follows_the_specified_order(tmp_path: Path) -> None:
    assert locate.find(tmp_path) is None
    (tmp_path / ".devcontainer" / "b").mkdir(parents=True)
    (tmp_path / ".devcontainer" / "b" / "devcontainer.json").write_text("{}")
    assert locate.find(tmp_path) == tmp_path / ".devcontainer" / "b" / "devcontainer.json"
    (tmp_path / ".devcontainer.json").write_text("{}")
    assert locate.find(tmp_path) == tmp_path / ".devcontainer.json"
    (tmp_path / ".devcontainer" / "devcontainer.json").write_text("{}")
    assert locate.find(tmp_path) == tmp_path / ".devcontainer" / "devcontainer.json"
    with pytest.raises(jsonc.ConfigError, match="inside the repository"):
        locate.find(tmp_path, "../elsewhere.json")


def test_variables() -> None:
    v = Variables(
        "/src/app",
        "/workspaces/app",
        {"HOME": "/h"},
        devcontainer_id="ID",
        container_env={"PATH": "/bin"},
    )
    doc = {
        "a": "${localEnv:HOME}",
        "b": "${localEnv:NOPE:dflt}",
        "c": "${containerEnv:PATH}:/x",
        "d": "${devcontainerId}",
        "e": ["${localWorkspaceFolderBasename}"],
        "f": "${what}",
    }
    assert substitute(doc, v) == {
        "a": "/h",
        "b": "dflt",
        "c": "/bin:/x",
        "d": "ID",
        "e": ["app"],
        "f": "${what}",
    }


def test_devcontainer_id_is_the_specification_algorithm() -> None:
    one = devcontainer_id({"b": "2", "a": "1"})
    assert one == devcontainer_id({"a": "1", "b": "2"})  # order does not matter
    assert len(one) == 52 and one.isalnum()
    assert one != devcontainer_id({"a": "1"})
