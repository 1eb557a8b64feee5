"""``roost env ports ID [open PORT --admission ... | close PORT | login PORT]``.

Opening and closing edit the environment's spec through the normal versioned update: read,
change ``spec.ports``, write back with the ``spec_version`` read, and on 409
``spec_version_conflict`` (someone else changed the spec meanwhile) read again and retry. The
plane refuses an admission wider than the organization allows, with a message naming the cap.

``login PORT`` prints a one-use link (valid for a minute) that logs a browser in to the port;
scripts can skip it and send ``Authorization: Bearer <roost token>`` instead.
"""

import webbrowser
from collections.abc import Callable
from typing import Any

import click

from roost.cli.client import Client
from roost.cli.context import client
from roost.cli.envref import ENV
from roost.cli.output import OUTPUT_OPTION, emit_json, show
from roost.core.errors import RoostError

ADMISSIONS = click.Choice(["owner", "organization", "public"])
HEADERS = ["PORT", "ADMISSION", "NAME", "URL"]
RETRIES = 5


@click.command("ports")
@click.argument("env_id", type=ENV, metavar="ENV")
@click.argument("action", required=False, type=click.Choice(["open", "close", "login"]))
@click.argument("port", required=False, type=click.IntRange(1, 65535))
@click.option("--admission", type=ADMISSIONS, default="owner", show_default=True,
              help="open: who may reach the port through the proxy.")  # fmt: skip
@click.option("--name", default="", help="open: a label.")
@click.option("--open", "open_browser", is_flag=True, help="login: open the link in a browser.")
@OUTPUT_OPTION
def ports(env_id: str, action: str | None, port: int | None, admission: str, name: str,
          open_browser: bool, output: str) -> None:  # fmt: skip
    """An environment's ports: list, open PORT [--admission A], close PORT, login PORT."""
    if action is None:
        _show(client().get(f"/environments/{env_id}"), output)
        return
    if port is None:
        raise click.UsageError(f"`{action}` needs a PORT")
    if action == "login":
        _login(env_id, port, open_browser, output)
        return
    opened = {"port": port, "admission": admission, "name": name} if action == "open" else None

    def change(current: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [p for p in current if p["port"] != port]
        return [*kept, opened] if opened else kept

    _show(update_ports(client(), env_id, change), output)


def _show(env: dict[str, Any], output: str) -> None:
    urls = env["status"].get("endpoints", {}).get("ports", {})
    items = [{**p, "url": urls.get(str(p["port"]))} for p in env["spec"]["ports"]]
    # and the devcontainer's forwardPorts, which the runner publishes for the owner
    cond = env["status"].get("conditions", {}).get("ports") or {}
    opened = {p["port"] for p in env["spec"]["ports"]}
    items += [
        {"port": n, "admission": "owner", "name": "forwardPorts", "url": urls.get(str(n))}
        for n in cond.get("details", {}).get("forwarded", []) if n not in opened
    ]  # fmt: skip
    rows = [[p["port"], p["admission"], p.get("name", ""), p["url"] or "-"] for p in items]
    show(items, output, rows, HEADERS)


def update_ports(
    api: Client, env_id: str, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> dict[str, Any]:
    """Read, change ``spec.ports``, write with the version read; retry on a conflict."""
    for _ in range(RETRIES):
        env = api.get(f"/environments/{env_id}")
        spec = dict(env["spec"])
        spec["ports"] = change(list(spec["ports"]))
        try:
            doc: dict[str, Any] = api.request(
                "PUT", f"/environments/{env_id}/spec", json={"spec": spec}
            )
        except RoostError as exc:
            if exc.code == "spec_version_conflict":
                continue
            raise
        return doc
    raise RoostError(f"environment {env_id} keeps changing; try again")


def _login(env_id: str, port: int, open_browser: bool, output: str) -> None:
    """A one-use link that logs a browser in to PORT (valid for a minute)."""
    doc = client().post(f"/environments/{env_id}/ports/{port}/login")
    if output == "json":
        emit_json(doc)
        return
    click.echo(doc["url"])
    click.echo(f"(without wildcard DNS: {doc['path_url']})", err=True)
    if open_browser:
        webbrowser.open(doc["url"])
