"""``roost secret set | list | delete``: secrets for your environments.

Scope: ``--user`` (the default: yours alone, in every environment you own), ``--org [NAME]``
(every environment of the organization) or ``--project NAME`` (every environment of the
project; ``--org NAME`` says which organization's project). The value comes from ``--value``,
``--from-file`` or standard input -- never echoed, never shown again. Where it goes: an
environment variable (``--env VAR``, default: the secret's name) or a file (``--file PATH``).
"""

import sys
from pathlib import Path
from typing import Any

import click

from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION, show


def _scope_options(f: Any) -> Any:
    f = click.option("--user", "user_scope", is_flag=True, help="Your own secret (default).")(f)
    f = click.option("--project", help="A project's secret.")(f)
    return click.option(
        "--org", is_flag=False, flag_value="", default=None, metavar="[NAME]",
        help="An organization's secret (your only organization, or NAME).",
    )(f)  # fmt: skip


def _scope(org: str | None, project: str | None, user_scope: bool) -> dict[str, Any]:
    if user_scope and (org is not None or project):
        raise click.UsageError("--user cannot be combined with --org or --project")
    scope = "project" if project else "organization" if org is not None else "user"
    return {"scope": scope, "organization": org or None, "project": project}


def _value(value: str | None, from_file: Path | None) -> str:
    if value is not None and from_file is not None:
        raise click.UsageError("give --value or --from-file, not both")
    if from_file is not None:
        return from_file.read_text()
    if value is not None:
        return value
    if sys.stdin.isatty():
        return str(click.prompt("value", hide_input=True, err=True))
    return sys.stdin.read().removesuffix("\n")


@click.group("secret")
def secret() -> None:
    """Secrets injected into environments (encrypted at rest, never shown again)."""


@secret.command("set")
@click.argument("name")
@_scope_options
@click.option("--value", help="The value (prefer --from-file or stdin: shells keep history).")
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--env", "env_var", help="Variable to inject it as (default: NAME).")
@click.option("--file", "file_path", help="Absolute path of a file to write it to instead.")
@OUTPUT_OPTION
def set_(
    name: str, org: str | None, project: str | None, user_scope: bool, value: str | None,
    from_file: Path | None, env_var: str | None, file_path: str | None, output: str,
) -> None:  # fmt: skip
    """Create or replace a secret; running environments get it at their next start."""
    body = {"name": name, **_scope(org, project, user_scope), "value": _value(value, from_file),
            "env_var": env_var, "file_path": file_path}  # fmt: skip
    doc = client().post("/secrets", {k: v for k, v in body.items() if v is not None})
    show(doc, output, [_row(doc)], HEADERS)


HEADERS = ["NAME", "SCOPE", "TARGET", "UPDATED"]


def _row(s: dict[str, Any]) -> list[object]:
    target = f"${s['env_var']}" if s.get("env_var") else s.get("file_path")
    owner = s.get("project_id") or s.get("organization_id") or "you"
    return [s["name"], f"{s['scope']} ({owner})", target, str(s["updated_at"])[:19]]


@secret.command("list")
@_scope_options
@OUTPUT_OPTION
def list_(org: str | None, project: str | None, user_scope: bool, output: str) -> None:
    """Secrets you can see (names and targets; values are never shown)."""
    params = _scope(org, project, user_scope) if (org is not None or project or user_scope) else {}
    items = client().get("/secrets", **params)
    show(items, output, [_row(s) for s in items], HEADERS)


@secret.command("delete")
@click.argument("name")
@_scope_options
def delete(name: str, org: str | None, project: str | None, user_scope: bool) -> None:
    """Delete a secret (by name in its scope, or by id)."""
    params = {k: v for k, v in _scope(org, project, user_scope).items() if v is not None}
    client().request("DELETE", f"/secrets/{name}", params=params)
    click.echo(f"secret {name} deleted")
