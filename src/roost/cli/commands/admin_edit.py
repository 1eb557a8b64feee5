"""``roost project update``, ``roost class update | delete``: changing what admins made, by
name. (``project create | get | delete`` and ``class create | list`` are in ``project.py``.)"""

from typing import Any

import click

from roost.cli.commands.project import CLASS_HEADERS, _class_row, _row, class_, project
from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION, show
from roost.core import ids
from roost.core.errors import NotFound, RoostError


@project.command("update")
@click.argument("ref")
@click.option("--org", help="The project's organization (when the name is in several).")
@click.option("--repo", help="Repository URL.")
@click.option("--class", "class_name", help="Default environment class.")
@click.option("--image", help="Default image.")
@click.option("--devcontainer", help="devcontainer.json path in the repository.")
@click.option("--keep-writable-layer/--class-decides", default=None,
              help="Keep installed packages at stop whatever the class says.")  # fmt: skip
@OUTPUT_OPTION
def project_update(
    ref: str, org: str | None, repo: str | None, class_name: str | None, image: str | None,
    devcontainer: str | None, keep_writable_layer: bool | None, output: str,
) -> None:  # fmt: skip
    """Change a project's repository or defaults (options not given keep their value).

    \b
    Examples:
      roost project update api --class large
      roost project update api --org acme --repo https://git.example/acme/api2.git
    """
    api = client()
    current = api.get(f"/projects/{ref}", organization=org)
    settings = dict(current["settings"])
    for key, value in (("default_class", class_name), ("default_image", image),
                       ("devcontainer_path", devcontainer),
                       ("keep_writable_layer", keep_writable_layer)):  # fmt: skip
        if value is not None:
            settings[key] = value
    body: dict[str, Any] = {"settings": settings}
    if repo is not None:
        body["repo_url"] = repo
    p = api.request("PATCH", f"/projects/{current['id']}", json=body)
    show(p, output, [_row(p)], ["ID", "NAME", "REPO"])


def _find_class(ref: str, org: str | None) -> dict[str, Any]:
    """A class by id or name (an organization's own class first, then a global one)."""
    items: list[dict[str, Any]] = client().get("/classes", organization=org)
    if ids.is_id(ref):
        found = [c for c in items if c["id"] == ref]
    else:
        named = [c for c in items if c["name"] == ref]
        found = [c for c in named if c.get("organization_id")] or named
    if not found:
        raise NotFound(f"class {ref!r} not found; `roost class list` shows them")
    if len(found) > 1:
        raise RoostError(f"{len(found)} classes are named {ref!r}; name the organization (--org)")
    return found[0]


@class_.command("update")
@click.argument("ref")
@click.option("--org", help="The class's organization (default: yours, or the global class).")
@click.option("--cpu", type=float)
@click.option("--memory", "memory_mib", type=int, help="MiB")
@click.option("--disk", "disk_gib", type=int, help="GiB")
@click.option("--pids", type=int)
@click.option("--upload", "upload_mbit", type=int, help="Mbit/s")
@click.option("--download", "download_mbit", type=int, help="Mbit/s")
@click.option("--runtime", type=click.Choice(["container", "sandbox"]))
@click.option("--keep-writable-layer/--workspace-only", default=None,
              help="What a stop keeps: everything, or only the workspace.")  # fmt: skip
@click.option("--description")
@OUTPUT_OPTION
def class_update(
    ref: str, org: str | None, description: str | None, output: str, **resources: Any
) -> None:
    """Change a class (options not given keep their value). Environments made from it keep
    what they had until their spec names the class again; new ones get the new values.

    \b
    Examples:
      roost class update large --memory 16384
      roost class update quick --org acme --keep-writable-layer
    """
    found = _find_class(ref, org)
    merged = {**found["resources"], **{k: v for k, v in resources.items() if v is not None}}
    body: dict[str, Any] = {"resources": merged}
    if description is not None:
        body["description"] = description
    c = client().request("PATCH", f"/classes/{found['id']}", json=body)
    show(c, output, [_class_row(c)], CLASS_HEADERS)


@class_.command("delete")
@click.argument("ref")
@click.option("--org", help="The class's organization.")
def class_delete(ref: str, org: str | None) -> None:
    """Delete a class by name or id (environments made from it keep their resources)."""
    found = _find_class(ref, org)
    client().request("DELETE", f"/classes/{found['id']}")
    click.echo(f"deleted class {found['name']}")


@class_.command("restrict")
@click.argument("name")
@click.option("--org", required=True, help="The organization whose policy to change.")
@click.option("--role", type=click.Choice(["owner", "admin", "member"]), required=True,
              help="The least role that may choose the class (member: everyone).")  # fmt: skip
def class_restrict(name: str, org: str, role: str) -> None:
    """Keep a class to some members of an organization (its policy's class_roles).

    \b
    Examples:
      roost class restrict large --org acme --role admin    # only admins and owners
      roost class restrict large --org acme --role member   # everyone again
    """
    api = client()
    policy = dict(api.get(f"/organizations/{org}")["policy"])
    roles = dict(policy.get("class_roles") or {})
    if role == "member":
        roles.pop(name, None)
    else:
        roles[name] = role
    policy["class_roles"] = roles
    api.request("PATCH", f"/organizations/{org}", json={"policy": policy})
    who = "every member" if role == "member" else f"{role}s and up"
    click.echo(f"class {name} in {org}: {who}")
