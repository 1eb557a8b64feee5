"""Automations at run time, with commands run on the host (``HostDriver``) for speed: task
dependencies, readiness, stopping a whole service, triggers."""

import asyncio
import os
from pathlib import Path

import pytest

from roost.core.errors import Conflict, NotFound
from roost.runner.automations.config import parse
from roost.runner.automations.manager import EnvironmentAutomations
from roost.runner.automations.process import Target
from roost.runner.automations.step import summary
from roost.runner.devcontainer.logs import LogStore
from tests.runner.access.hostdriver import HostDriver

ENV = "env1"


def manager(tmp_path: Path, text: str) -> tuple[EnvironmentAutomations, list[str]]:
    driver = HostDriver(tmp_path)
    driver.add(ENV)
    seen: list[str] = []

    async def changed() -> None:
        seen.append(summary(m)[1])

    logs = LogStore(tmp_path / "logs")
    m = EnvironmentAutomations(parse(text, "a.yaml"), Target(driver, ENV), logs, changed)
    return m, seen


async def until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


TASKS = """\
tasks:
  fetch: {name: Fetch, command: "sleep 0.2; echo fetch >> order"}
  generate: {name: Gen, command: "echo generate >> order", dependsOn: [fetch]}
  lint: {name: Lint, command: "echo lint >> order", dependsOn: [fetch]}
  build: {name: Build, command: "echo build >> order; echo built", dependsOn: [generate, lint]}
  broken: {name: Broken, command: "exit 3"}
  after-broken: {name: After, command: "echo never >> order", dependsOn: [broken]}
"""


async def test_tasks_run_after_what_they_depend_on_each_once(tmp_path: Path) -> None:
    m, _ = manager(tmp_path, TASKS)
    await m.run_tasks(["build"])
    with pytest.raises(Conflict):
        await m.run_tasks(["build"])  # already running
    await m.wait_task("build")
    order = (tmp_path / "order").read_text().split()
    assert order[0] == "fetch" and order[-1] == "build"
    assert sorted(order[1:3]) == ["generate", "lint"]
    assert {t: m.tasks[t].phase for t in ("fetch", "generate", "lint", "build")} == dict.fromkeys(
        ("fetch", "generate", "lint", "build"), "succeeded")  # fmt: skip
    assert "built" in (tmp_path / "logs" / ENV / "task-build.log").read_text()


async def test_a_failed_dependency_stops_what_depends_on_it(tmp_path: Path) -> None:
    m, _ = manager(tmp_path, TASKS)
    await m.run_tasks(["after-broken"])
    await m.wait_task("after-broken")
    assert (m.tasks["broken"].phase, m.tasks["broken"].exit_code) == ("failed", 3)
    assert m.tasks["after-broken"].phase == "failed"
    assert "not run: broken failed" in m.tasks["after-broken"].message
    assert not (tmp_path / "order").exists()
    assert summary(m)[0] == "failed"
    with pytest.raises(NotFound):
        await m.run_tasks(["nope"])


SERVICES = """\
services:
  web:
    name: Web
    triggeredBy: [postEnvironmentStart]
    commands:
      start: "sleep 0.5; touch up.flag; sleep 300 & sleep 301; echo never"
      ready: "test -e up.flag"
  plain:
    name: Plain
    commands: {start: "echo hello; sleep 300"}
  crash:
    name: Crash
    commands: {start: "echo dying; exit 7"}
tasks:
  setup: {name: Setup, command: "echo setup > setup.out", triggeredBy: [postEnvironmentStart]}
  manual: {name: Manual, command: "echo manual > manual.out"}
"""


def processes(tag: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if cmd.startswith(f"sleep {tag}".encode()):
            found.append(int(pid))
    return found


async def test_a_service_is_ready_when_its_ready_command_succeeds(tmp_path: Path) -> None:
    m, seen = manager(tmp_path, SERVICES)
    await m.trigger("postEnvironmentStart")
    assert m.services["web"].phase == "starting"
    assert m.services["plain"].phase == "pending"  # manual: not triggered
    await until(lambda: m.services["web"].phase == "ready")
    await m.wait_task("setup")
    assert (tmp_path / "setup.out").exists() and not (tmp_path / "manual.out").exists()
    assert any("web starting" in s for s in seen) and "web ready" in seen[-1]
    assert processes("300") and processes("301")
    await m.stop_service("web")
    assert m.services["web"].phase == "stopped"
    await until(lambda: not processes("300") and not processes("301"))  # the whole group


async def test_services_without_ready_run_and_failures_are_reported(tmp_path: Path) -> None:
    m, _ = manager(tmp_path, SERVICES)
    await m.start_service("plain")
    await until(lambda: m.services["plain"].phase == "running")
    await m.start_service("crash")
    await until(lambda: m.services["crash"].phase == "failed")
    assert "exit code 7" in m.services["crash"].message
    assert "dying" in (tmp_path / "logs" / ENV / "service-crash.log").read_text()
    await m.stop_all()
    assert m.services["plain"].phase == "stopped"
    assert "hello" in (tmp_path / "logs" / ENV / "service-plain.log").read_text()
    log = (tmp_path / "logs" / ENV / "service-plain.log").read_text()
    assert "roost-pgid" not in log  # the wrapper's announcement is not the service's output
