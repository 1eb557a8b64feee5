"""automations.yaml: the Gitpod Flex shape, errors that name file, line and problem."""

from pathlib import Path

import pytest

from roost.runner.automations.config import AutomationsError, find, parse

EXAMPLE = """\
services:
  db:
    name: Database
    description: the backing store
    triggeredBy: [postEnvironmentStart]
    commands:
      start: exec ./db
      ready: test -e /tmp/db.ok
      stop: ./stop-db
    runsOn: {docker: {image: x}}
tasks:
  generate:
    name: Generate
    command: make gen
  build:
    name: Build
    command: make
    dependsOn: [generate]
    triggeredBy: [postDevcontainerStart, manual]
"""


def test_the_gitpod_shape_is_read() -> None:
    found = parse(EXAMPLE, "a.yaml")
    db = found.services["db"]
    assert (db.name, db.start, db.ready) == ("Database", "exec ./db", "test -e /tmp/db.ok")
    assert db.stop == "./stop-db"
    assert db.triggered_by == ("postEnvironmentStart",)
    assert found.tasks["build"].depends_on == ("generate",)
    assert found.run_order("build") == ["generate", "build"]
    assert found.tasks["generate"].triggered_by == ()  # manual only


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("services:\n  db:\n    name: x\n    commands: {start: a}\n    colour: red\n", 5,
         "unknown key 'colour' in service 'db'"),
        ("tasks:\n  a:\n    command: x\n    triggeredBy: [onSave]\n", 4,
         "unknown trigger 'onSave'"),
        ("tasks:\n  a:\n    name: A\n", 3, "task 'a' needs a command"),
        ("tasks:\n  a:\n    command: x\n    dependsOn: [nope]\n", 2,
         "depends on unknown task 'nope'"),
        ("tasks:\n  a:\n    command: x\n    dependsOn: [b]\n  b:\n    command: y\n"
         "    dependsOn: [a]\n", 2, "dependency cycle: a -> b -> a"),
        ("services:\n  db:\n    name: x\n    commands: {ready: a}\n", 4, "needs commands.start"),
        ("tasks:\n  'bad id':\n    command: x\n", 2, "not a valid id"),
        ("tasks: [\n", 2, "not valid YAML"),
        ("tasks:\n  a:\n    command: [x]\n", 3, "command must be a string"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(AutomationsError) as caught:
        parse(text, ".roost/automations.yaml")
    assert caught.value.path == ".roost/automations.yaml"
    assert caught.value.line == line, caught.value
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f".roost/automations.yaml:{line}: ")


def test_roost_file_first_then_gitpod_and_no_escape(tmp_path: Path) -> None:
    (tmp_path / ".gitpod").mkdir()
    (tmp_path / ".gitpod" / "automations.yaml").write_text("tasks: {}\n")
    assert find(tmp_path) == (tmp_path / ".gitpod" / "automations.yaml").resolve()
    (tmp_path / ".roost").mkdir()
    (tmp_path / ".roost" / "automations.yaml").write_text("tasks: {}\n")
    assert find(tmp_path) == (tmp_path / ".roost" / "automations.yaml").resolve()
    (tmp_path / "evil.yaml").symlink_to("/etc/hostname")
    assert find(tmp_path, "evil.yaml") is None  # a symlink out of the workspace is not read
    assert parse("", "empty.yaml").tasks == {}
