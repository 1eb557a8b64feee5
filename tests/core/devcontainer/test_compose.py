"""Compose files read as ``docker compose config`` reads them: several files, ``.env`` and
interpolation, ``extends``, profiles, ``depends_on`` order, and errors that name file and line."""

import shutil
from pathlib import Path

import pytest

from roost.core.devcontainer import compose, jsonc, readconf

CORPUS = Path(__file__).parent / "corpus"


def _project(tmp_path: Path, env: dict[str, str] | None = None) -> compose.Project:
    folder = tmp_path / "compose"
    shutil.copytree(CORPUS / "compose", folder)
    path = folder / ".devcontainer" / "devcontainer.json"
    resolved = readconf.resolve(path, folder, local_env={})
    return compose.project_of(resolved.configuration, path, env or {})


def test_files_merge_in_order_with_dot_env_and_defaults(tmp_path: Path) -> None:
    project = _project(tmp_path)
    app = project.services["app"]
    assert app["command"] == "sleep infinity"  # from the second file
    assert app["environment"] == {
        "DATABASE_URL": "postgres://postgres:secret@db/app",  # .env
        "DEV": "1",  # list form merged into the mapping
    }
    assert app["build"]["args"] == {"PYTHON": "3.12"}  # .env beats the default
    assert project.services["db"]["image"] == "roost.test/postgres:15"  # ${VAR:-default}
    assert project.services["db"]["environment"] == {"POSTGRES_PASSWORD": "secret"}
    assert "pgdata" in project.volumes


def test_the_callers_environment_beats_dot_env(tmp_path: Path) -> None:
    project = _project(tmp_path, {"DB_PASSWORD": "other", "DB_IMAGE": "pg:16"})
    assert project.services["db"]["image"] == "pg:16"
    assert project.services["db"]["environment"]["POSTGRES_PASSWORD"] == "other"


def test_profiles_and_run_order(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert "debug-tools" not in project.services  # its profile is not enabled
    assert project.started("app", ["app", "db", "redis"]) == ["db", "redis", "app"]
    with_debug = _project(tmp_path / "b", {"COMPOSE_PROFILES": "debug"})
    assert "debug-tools" in with_debug.services


def test_interpolation_forms(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "services:\n  a:\n    image: x\n    environment:\n"
        "      A: ${SET:-d}\n      B: ${EMPTY:-d}\n      C: ${EMPTY-d}\n"
        "      D: ${SET:+alt}\n      E: $$HOME\n      F: ${UNSET:-${SET}}\n      G: $SET\n"
    )
    project = compose.load([tmp_path / "c.yml"], {"SET": "v", "EMPTY": ""})
    assert project.services["a"]["environment"] == {
        "A": "v", "B": "d", "C": "", "D": "alt", "E": "$HOME", "F": "v", "G": "v",
    }  # fmt: skip
    (tmp_path / "r.yml").write_text("services:\n  a:\n    image: ${NEEDED:?set NEEDED}\n")
    with pytest.raises(jsonc.ConfigError, match="NEEDED is required: set NEEDED"):
        compose.load([tmp_path / "r.yml"], {})


def test_extends_in_the_same_file_and_another(tmp_path: Path) -> None:
    (tmp_path / "base.yml").write_text(
        "services:\n  common:\n    image: base\n    environment: [A=1]\n    ports: ['80']\n"
    )
    (tmp_path / "c.yml").write_text(
        "services:\n"
        "  web:\n    extends: {file: base.yml, service: common}\n    ports: ['81']\n"
        "  worker:\n    extends: web\n    environment: {B: '2'}\n"
    )
    services = compose.load([tmp_path / "c.yml"], {}).services
    assert services["web"] == {"image": "base", "environment": {"A": "1"}, "ports": ["80", "81"]}
    assert services["worker"]["environment"] == {"A": "1", "B": "2"}


def test_a_broken_file_names_file_line_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("services:\n  app:\n    image: x\n   bad: [\n")
    with pytest.raises(jsonc.ConfigError) as info:
        compose.load([path], {})
    assert str(info.value).startswith(f"{path}:4: ")


def test_missing_services_and_cycles_are_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n"
                    "    depends_on: [a]\n")  # fmt: skip
    project = compose.load([path], {})
    with pytest.raises(jsonc.ConfigError, match="depends_on cycle: a -> b -> a"):
        project.started("a", None)
    with pytest.raises(jsonc.ConfigError, match="no service 'nope'"):
        project.started("nope", [])
