"""``roost env automations | task run | service start/stop | logs``: served by the runner.

Like ``roost env exec``, each request gets a one-use ticket from the plane (owner only, for one
purpose: ``automations`` or ``logs``) and goes to the environment's runner directly: logs and
automation output are the repository's, and stay on the runner like its code.
"""

import sys
import time
from typing import Any

import click
import httpx

from roost.cli.client import error_of
from roost.cli.commands.env import env
from roost.cli.context import client
from roost.cli.envref import ENV
from roost.cli.output import OUTPUT_OPTION, show
from roost.core.errors import RoostError

HEADERS = ["KIND", "ID", "NAME", "STATE", "TRIGGERS", "MESSAGE"]


def _ticket(env_id: str, purpose: str) -> dict[str, Any]:
    """A one-use ticket for the environment's runner (``runner/access/tickets.py``)."""
    return client().post(f"/environments/{env_id}/exec", purpose=purpose)  # type: ignore[no-any-return]


def _runner(env_id: str, purpose: str, method: str, path: str = "", **params: Any) -> Any:
    ticket = _ticket(env_id, purpose)
    try:
        response = httpx.request(
            method, ticket["url"] + path, params=params, timeout=60.0,
            headers={"Authorization": f"Bearer {ticket['ticket']}"},
        )  # fmt: skip
    except httpx.TransportError as exc:
        where = ticket["url"]
        raise RoostError(f"cannot reach the environment's runner at {where}: {exc}") from exc
    if response.status_code >= 400:
        raise error_of(response)
    return response.json() if "json" in response.headers.get("content-type", "") else response.text


def _rows(doc: dict[str, Any]) -> list[list[object]]:
    return [
        [i["kind"], i["id"], i["name"], i["phase"], ",".join(i["triggered_by"]) or "manual",
         i["message"][:60]]
        for i in [*doc["services"], *doc["tasks"]]
    ]  # fmt: skip


@env.command("automations")
@click.argument("env_id", type=ENV, metavar="ENV")
@OUTPUT_OPTION
def automations(env_id: str, output: str) -> None:
    """Services and tasks of an environment's automations.yaml, with their states."""
    doc = _runner(env_id, "automations", "GET")
    show(doc, output, _rows(doc), HEADERS)


@env.group("task")
def task() -> None:
    """Tasks of an environment's automations."""


@task.command("run")
@click.argument("env_id", type=ENV, metavar="ENV")
@click.argument("task_id")
@click.option("--no-wait", is_flag=True, help="Start it and return.")
def task_run(env_id: str, task_id: str, no_wait: bool) -> None:
    """Run a task (after the tasks it depends on), show its output, exit with its outcome."""
    state = _runner(env_id, "automations", "POST", f"/tasks/{task_id}/run")
    if no_wait:
        click.echo(f"task {task_id}: {state['phase']}")
        return
    _follow(env_id, f"task-{task_id}")
    for _ in range(50):  # its state is set just after its log's last line
        tasks = _runner(env_id, "automations", "GET")["tasks"]
        final = next(t for t in tasks if t["id"] == task_id)
        if final["phase"] not in ("pending", "running"):
            break
        time.sleep(0.1)
    click.echo(f"task {task_id}: {final['phase']} ({final['message']})", err=True)
    sys.exit(0 if final["phase"] == "succeeded" else 1)


@env.group("service")
def service() -> None:
    """Services of an environment's automations."""


def _service_command(verb: str) -> None:
    @service.command(verb, help=f"{verb.capitalize()} a service.")
    @click.argument("env_id", type=ENV, metavar="ENV")
    @click.argument("service_id")
    def command(env_id: str, service_id: str) -> None:
        state = _runner(env_id, "automations", "POST", f"/services/{service_id}/{verb}")
        click.echo(f"service {service_id}: {state['phase']} ({state['message']})")


_service_command("start")
_service_command("stop")


@env.command("logs")
@click.argument("env_id", type=ENV, metavar="ENV")
@click.option("--step", help="A hook (onCreateCommand...), build, dotfiles, a task or a service.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing what is appended.")
def logs(env_id: str, step: str | None, follow: bool) -> None:
    """Logs of the build, lifecycle hooks and automations -- at any time, building or failed
    included. Without --step: which logs there are, and the latest one.

    \b
    Examples:
      roost env logs dev --step build -f        # follow a build as it runs
      roost env logs dev --step postCreateCommand
    """
    if step is None:
        click.echo(_runner(env_id, "logs", "GET"), nl=False)
        return
    _follow(env_id, step, follow=follow)


def _follow(env_id: str, step: str, *, follow: bool = True) -> None:
    ticket = _ticket(env_id, "logs")
    params = {"step": step, **({"follow": "1"} if follow else {})}
    headers = {"Authorization": f"Bearer {ticket['ticket']}"}
    timeout = httpx.Timeout(30.0, read=None)
    try:
        with httpx.stream("GET", ticket["url"], params=params, headers=headers,
                          timeout=timeout) as response:  # fmt: skip
            if response.status_code >= 400:
                response.read()
                raise error_of(response)
            for chunk in response.iter_bytes():
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
    except httpx.TransportError as exc:
        raise RoostError(f"cannot reach the environment's runner: {exc}") from exc
