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


def test_unknown_properties_warn_and_compose_needs_its_service(tmp_path: Path) -> None:
    path = tmp_path / "devcontainer.json"
    path.write_text('{"image": "x",\n "mystery": 1}')
    assert readconf.resolve(path, tmp_path).warnings == [
        f"{path}:2: unknown property 'mystery' (ignored)"
    ]
    path.write_text('{"dockerComposeFile": "c.yml", "service": "app"}')
    resolved = readconf.resolve(path, tmp_path)
    assert readconf.document(resolved)["workspace"] == {"workspaceFolder": "/"}
    path.write_text('{"dockerComposeFile": "c.yml"}')
    with pytest.raises(jsonc.ConfigError, match="names its `service`"):
        readconf.resolve(path, tmp_path)


def test_legacy_settings_and_extensions_move_into_vscode_customizations(tmp_path: Path) -> None:
    path = tmp_path / "devcontainer.json"
    path.write_text(
        '{"image": "x", "settings": {"a": 1, "b": 2}, "extensions": ["one"],'
        ' "customizations": {"vscode": {"settings": {"a": 9}, "extensions": ["zero"]}}}'
    )
    resolved = readconf.resolve(path, tmp_path)
    assert "settings" not in resolved.configuration and resolved.warnings == []
    vscode = resolved.configuration["customizations"]["vscode"]
    assert vscode == {"settings": {"a": 9, "b": 2}, "extensions": ["zero", "one"]}


def test_workspace_folder_variables_resolve_where_they_are_inserted(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".devcontainer").mkdir(parents=True)
    path = repo / ".devcontainer" / "devcontainer.json"
    path.write_text(
        '{"image": "x", "workspaceFolder": "/mnt/x/${localWorkspaceFolderBasename}",'
        ' "containerEnv": {"W": "${containerWorkspaceFolder}", "N": 5, "T": true},'
        ' "customizations": {"k": {"${localWorkspaceFolder}/out": "${localWorkspaceFolder}"}}}'
    )
    resolved = readconf.resolve(path, repo)
    assert resolved.workspace_folder == "/mnt/x/repo"
    assert resolved.configuration["containerEnv"]["W"] == "/mnt/x/repo"
    assert resolved.config.container_env == {"W": "/mnt/x/repo", "N": "5", "T": "true"}
    # keys are patterns for the editor, not paths: left as written
    assert resolved.configuration["customizations"]["k"] == {
        "${localWorkspaceFolder}/out": str(repo)
    }
    # the repository is mounted at /workspaces/<repo>; workspaceFolder is only where to start
    assert resolved.workspace_mount == f"type=bind,source={repo},target=/workspaces/repo"


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
