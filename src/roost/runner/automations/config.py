"""``automations.yaml``: services and tasks, in Gitpod Flex's format.

::

    services:
      db:                              # id: letters, digits, _ and -, up to 128
        name: Database                 # required
        description: optional text
        triggeredBy: [postEnvironmentStart]
        commands:
          start: exec ./run-db         # required: runs until the service stops
          ready: test -e /tmp/db.ok    # optional: polled each second until it succeeds
          stop: ./stop-db              # optional: otherwise SIGTERM, then SIGKILL
    tasks:
      build:
        name: Build
        command: make
        dependsOn: [generate]          # tasks run after those they depend on
        triggeredBy: [manual]

Triggers: ``postEnvironmentStart`` and ``postDevcontainerStart`` (both fire on every start of
the environment here: a devcontainer is started exactly when its environment is), ``prebuild``
(kept for prebuilds; not fired by a normal start) and ``manual`` (the default: only on request).
Gitpod's ``runsOn`` and ``role`` are accepted and ignored. Anything else -- an unknown key, a
wrong type, a dependency on a task that does not exist, a dependency cycle -- is an error naming
the file, the line and the problem, like devcontainer.json's.

Parsing uses PyYAML's node tree (``yaml.compose``, safe: no tags run code) rather than
``safe_load``, because nodes keep their line numbers and dicts do not.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

Trigger = Literal["postEnvironmentStart", "postDevcontainerStart", "prebuild", "manual"]
TRIGGERS: tuple[str, ...] = ("postEnvironmentStart", "postDevcontainerStart", "prebuild", "manual")
START_TRIGGERS = ("postEnvironmentStart", "postDevcontainerStart")
ID = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
FILES = (".roost/automations.yaml", ".gitpod/automations.yaml")
"""Looked for in this order at the repository's root."""


class AutomationsError(ValueError):
    """An automations file that cannot be used; the message names file, line and problem."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = str(path), line, problem


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    start: str
    ready: str = ""
    stop: str = ""
    description: str = ""
    triggered_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    id: str
    name: str
    command: str
    depends_on: tuple[str, ...] = ()
    description: str = ""
    triggered_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Automations:
    path: str
    services: dict[str, Service]
    tasks: dict[str, Task]

    def run_order(self, task_id: str) -> list[str]:
        """``task_id`` and everything it depends on, dependencies first (each once)."""
        order: list[str] = []

        def visit(tid: str) -> None:
            if tid in order:
                return
            for dep in self.tasks[tid].depends_on:
                visit(dep)
            order.append(tid)

        visit(task_id)
        return order


def find(workspace: Path, override: str | None = None) -> Path | None:
    """The automations file of a workspace: the spec's ``automations_file``, else the first of
    :data:`FILES` that exists."""
    for rel in [override] if override else FILES:
        path = (workspace / rel).resolve()
        if path.is_relative_to(workspace.resolve()) and path.is_file():
            return path
    return None


def load(path: Path, shown: str | None = None) -> Automations:
    return parse(path.read_text(), shown or str(path))


def parse(text: str, path: str) -> Automations:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise AutomationsError(path, line, f"not valid YAML: {exc.problem or exc}") from None
    if root is None:
        return Automations(path, {}, {})
    top = _mapping(root, path, "the file", {"services", "tasks"})
    services = {k: _service(k, n, path) for k, n in _items(top.get("services"), path, "services")}
    tasks = {k: _task(k, n, path) for k, n in _items(top.get("tasks"), path, "tasks")}
    found = Automations(path, services, tasks)
    _check_dependencies(found, top.get("tasks"), path)
    return found


Node = yaml.Node


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _mapping(node: Node, path: str, what: str, allowed: set[str]) -> dict[str, Node]:
    if not isinstance(node, yaml.MappingNode):
        raise AutomationsError(path, _line(node), f"{what} must be a mapping")
    out: dict[str, Node] = {}
    for key, value in node.value:
        name = str(key.value)
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise AutomationsError(path, _line(key), f"unknown key {name!r} in {what} ({known})")
        out[name] = value
    return out


def _items(node: Node | None, path: str, what: str) -> list[tuple[str, Node]]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")):
        return []
    if not isinstance(node, yaml.MappingNode):
        raise AutomationsError(path, _line(node), f"{what} must be a mapping of id to definition")
    items = []
    for key, value in node.value:
        if not ID.match(str(key.value)):
            raise AutomationsError(
                path, _line(key), f"{key.value!r} is not a valid id (letters, digits, _ and -)"
            )
        items.append((str(key.value), value))
    return items


def _text(node: Node | None, path: str, what: str, *, required: bool = False) -> str:
    if node is None:
        if required:
            raise AutomationsError(path, 1, f"{what} is required")
        return ""
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise AutomationsError(path, _line(node), f"{what} must be a string")
    if required and not str(node.value).strip():
        raise AutomationsError(path, _line(node), f"{what} must not be empty")
    return str(node.value)


def _strings(node: Node | None, path: str, what: str) -> tuple[str, ...]:
    if node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        raise AutomationsError(path, _line(node), f"{what} must be a list")
    return tuple(_text(item, path, what) for item in node.value)


def _triggers(node: Node | None, path: str, what: str) -> tuple[str, ...]:
    triggers = _strings(node, path, what)
    for trigger, item in zip(triggers, node.value if node is not None else [], strict=True):
        if trigger not in TRIGGERS:
            raise AutomationsError(
                path, _line(item), f"unknown trigger {trigger!r} in {what} ({', '.join(TRIGGERS)})"
            )
    return triggers


SERVICE_KEYS = {"name", "description", "triggeredBy", "commands", "runsOn", "role"}
TASK_KEYS = {"name", "description", "triggeredBy", "command", "dependsOn", "runsOn"}


def _service(sid: str, node: Node, path: str) -> Service:
    where = f"service {sid!r}"
    fields = _mapping(node, path, where, SERVICE_KEYS)
    if "commands" not in fields:
        raise AutomationsError(path, _line(node), f"{where} needs commands.start")
    commands = _mapping(fields["commands"], path, f"{where} commands", {"start", "ready", "stop"})
    if "start" not in commands:
        raise AutomationsError(path, _line(fields["commands"]), f"{where} needs commands.start")
    return Service(
        id=sid,
        name=_text(fields.get("name"), path, f"{where} name") or sid,
        start=_text(commands["start"], path, f"{where} commands.start", required=True),
        ready=_text(commands.get("ready"), path, f"{where} commands.ready"),
        stop=_text(commands.get("stop"), path, f"{where} commands.stop"),
        description=_text(fields.get("description"), path, f"{where} description"),
        triggered_by=_triggers(fields.get("triggeredBy"), path, f"{where} triggeredBy"),
    )


def _task(tid: str, node: Node, path: str) -> Task:
    where = f"task {tid!r}"
    fields = _mapping(node, path, where, TASK_KEYS)
    if "command" not in fields:
        raise AutomationsError(path, _line(node), f"{where} needs a command")
    return Task(
        id=tid,
        name=_text(fields.get("name"), path, f"{where} name") or tid,
        command=_text(fields["command"], path, f"{where} command", required=True),
        depends_on=_strings(fields.get("dependsOn"), path, f"{where} dependsOn"),
        description=_text(fields.get("description"), path, f"{where} description"),
        triggered_by=_triggers(fields.get("triggeredBy"), path, f"{where} triggeredBy"),
    )


def _check_dependencies(found: Automations, tasks_node: Node | None, path: str) -> None:
    lines = {str(k.value): _line(k) for k, _ in (tasks_node.value if tasks_node else [])}
    for task in found.tasks.values():
        for dep in task.depends_on:
            if dep not in found.tasks:
                raise AutomationsError(
                    path, lines[task.id], f"task {task.id!r} depends on unknown task {dep!r}"
                )
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(tid: str, trail: list[str]) -> None:
        if state.get(tid) == 2:
            return
        if state.get(tid) == 1:
            cycle = [*trail[trail.index(tid) :], tid]
            raise AutomationsError(path, lines[tid], f"dependency cycle: {' -> '.join(cycle)}")
        state[tid] = 1
        for dep in found.tasks[tid].depends_on:
            visit(dep, [*trail, tid])
        state[tid] = 2

    for tid in found.tasks:
        visit(tid, [])
