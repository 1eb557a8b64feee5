"""``roost project`` and ``roost class``."""

import json
from typing import Any

import click

from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION, show


@click.group("project")
def project() -> None:
    """Projects: a repository and the defaults its environments start from."""


def _row(p: dict[str, object]) -> list[object]:
    return [p["id"], p["name"], p.get("repo_url") or "-"]


@project.command("create")
@click.argument("name")
@click.option("--repo", help="Repository URL.")
@click.option("--org")
@click.option("--class", "class_name", help="Default environment class.")
@click.option("--image", help="Default image.")
@click.option("--devcontainer", help="devcontainer.json path in the repository.")
@OUTPUT_OPTION
def create(
    name: str,
    repo: str | None,
    org: str | None,
    class_name: str | None,
    image: str | None,
    devcontainer: str | None,
    output: str,
) -> None:
    """Create a project: a repository and the defaults its environments get.

    \b
    Examples:
      roost project create api --repo https://git.example/acme/api.git --class large
      roost env create --project api
    """
    settings = {
        "default_class": class_name,
        "default_image": image,
        "devcontainer_path": devcontainer,
    }
    p = client().post(
        "/projects", {"name": name, "repo_url": repo, "settings": settings}, organization=org
    )
    show(p, output, [_row(p)], ["ID", "NAME", "REPO"])


@project.command("list")
@click.option("--org")
@OUTPUT_OPTION
def list_(org: str | None, output: str) -> None:
    """List projects (of one organization with --org)."""
    items = client().list_all("/projects", organization=org)
    show(items, output, [_row(p) for p in items], ["ID", "NAME", "REPO"])


@project.command("get")
@click.argument("ref")
@click.option("--org")
@OUTPUT_OPTION
def get(ref: str, org: str | None, output: str) -> None:
    """Show a project (by name or id) and its settings."""
    p = client().get(f"/projects/{ref}", organization=org)
    show(p, output, [[*_row(p), json.dumps(p["settings"])]], ["ID", "NAME", "REPO", "SETTINGS"])


@project.command("delete")
@click.argument("ref")
@click.option("--org", help="The project's organization (when the name is in several).")
def delete(ref: str, org: str | None) -> None:
    """Delete a project (by name or id); its environments keep running."""
    client().request("DELETE", f"/projects/{ref}", params={"organization": org} if org else {})
    click.echo(f"deleted project {ref}")


@click.group("class")
def class_() -> None:
    """Environment classes (CPU, memory, disk, pids, bandwidth, runtime)."""


def _class_row(c: dict[str, Any], orgs: dict[str, str] | None = None) -> list[object]:
    r = c["resources"]
    org_id = c.get("organization_id")
    return [
        c["name"],
        r["cpu"],
        r["memory_mib"],
        r["disk_gib"],
        r["pids"],
        r.get("upload_mbit") or "-",
        r.get("download_mbit") or "-",
        r["runtime"],
        "everything" if r.get("keep_writable_layer", True) else "workspace only",
        (orgs or {}).get(org_id, org_id) if org_id else "(global)",
    ]


CLASS_HEADERS = [
    "NAME", "CPU", "MEMORY_MIB", "DISK_GIB", "PIDS", "UP_MBIT", "DOWN_MBIT", "RUNTIME",
    "STOP_KEEPS", "ORG",
]  # fmt: skip


@class_.command("list")
@click.option("--org")
@OUTPUT_OPTION
def class_list(org: str | None, output: str) -> None:
    """List the environment classes you can use, and what a stop keeps."""
    api = client()
    items = api.get("/classes", organization=org)
    orgs = {o["id"]: o["name"] for o in api.get("/organizations")}  # names, not ids
    show(items, output, [_class_row(c, orgs) for c in items], CLASS_HEADERS)


@class_.command("create")
@click.argument("name")
@click.option("--org", help="Organization (default: a global class, platform admins only).")
@click.option("--cpu", type=float, default=2.0, show_default=True)
@click.option("--memory", "memory_mib", type=int, default=4096, show_default=True, help="MiB")
@click.option("--disk", "disk_gib", type=int, default=20, show_default=True, help="GiB")
@click.option("--pids", type=int, default=4096, show_default=True)
@click.option("--upload", "upload_mbit", type=int, help="Mbit/s")
@click.option("--download", "download_mbit", type=int, help="Mbit/s")
@click.option("--runtime", type=click.Choice(["container", "sandbox"]), default="container")
@click.option(
    "--keep-writable-layer/--workspace-only", default=None,
    help="At stop, back up everything (the default: installed packages, home directories) or "
    "only the workspace (faster stops; the rest is gone after stop/start).",
)  # fmt: skip
@click.option(
    "--nested-containers", is_flag=True, default=None,
    help="Allow Docker/Podman inside environments of this class (see docs/security.md).",
)  # fmt: skip
@click.option(
    "--restore-lost-after", "restore_lost_after_seconds", type=int,
    help="Seconds a runner may be silent before this class's environments on it are restored "
    "from their last backups elsewhere (default: the organization's policy, off).",
)  # fmt: skip
@click.option("--description", default="")
@OUTPUT_OPTION
def class_create(
    name: str, org: str | None, description: str, output: str, **resources: object
) -> None:
    """Create an environment class (CPU, memory, disk, pids, bandwidth, runtime).

    \b
    Examples:
      roost class create big --cpu 8 --memory 16384 --disk 100
      roost class create quick --workspace-only --org acme
    """
    body = {
        "name": name,
        "description": description,
        "resources": {k: v for k, v in resources.items() if v is not None},
    }
    c = client().post("/classes", body, organization=org)
    show(c, output, [_class_row(c)], CLASS_HEADERS)
