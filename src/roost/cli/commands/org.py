"""``roost org`` and ``roost user``: organizations, members, users."""

import click

from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION, show
from roost.cli.timespec import parse_duration


@click.group("org")
def org() -> None:
    """Organizations and their members."""


@org.command("list")
@OUTPUT_OPTION
def list_(output: str) -> None:
    """List the organizations you belong to (platform admins: all)."""
    items = client().get("/organizations")
    show(items, output, [[o["id"], o["name"]] for o in items], ["ID", "NAME"])


@org.command("create")
@click.argument("name")
@OUTPUT_OPTION
def create(name: str, output: str) -> None:
    """Create an organization (platform admins); you become its owner."""
    o = client().post("/organizations", {"name": name})
    show(o, output, [[o["id"], o["name"]]], ["ID", "NAME"])


@org.command("get")
@click.argument("ref")
@OUTPUT_OPTION
def get(ref: str, output: str) -> None:
    """Show an organization (by name or id) and its policy."""
    o = client().get(f"/organizations/{ref}")
    show(o, output, [[o["id"], o["name"], o["policy"]]], ["ID", "NAME", "POLICY"])


@org.command("egress")
@click.argument("ref")
@click.argument("cidrs", nargs=-1)
@click.option("--any", "anywhere", is_flag=True, help="Lift the restriction.")
@OUTPUT_OPTION
def egress(ref: str, cidrs: tuple[str, ...], anywhere: bool, output: str) -> None:
    """Where the organization's environments may connect to: CIDRS (none given: only their
    nameservers), or --any. Running environments change at once; the host, other environments
    and 169.254.169.254 stay blocked either way."""
    if anywhere and cidrs:
        raise click.UsageError("give networks or --any, not both")
    api = client()
    policy = dict(api.get(f"/organizations/{ref}")["policy"])
    policy["egress_allow"] = None if anywhere else list(cidrs)
    o = api.request("PATCH", f"/organizations/{ref}", json={"policy": policy})
    allow = o["policy"]["egress_allow"]
    show(o, output, [[o["name"], "anywhere" if allow is None else " ".join(allow) or "nowhere"]],
         ["NAME", "EGRESS"])  # fmt: skip


@org.command("restore-lost")
@click.argument("ref")
@click.argument("after", required=False)
@click.option("--off", is_flag=True, help="Wait for the runner, or an admin's `runner lost`.")
@OUTPUT_OPTION
def restore_lost(ref: str, after: str | None, off: bool, output: str) -> None:
    """When a runner has been silent AFTER (like 10m, 1h), restore the organization's
    environments that were on it from their last backups on another runner (their work since
    that backup is lost). Off by default."""
    if off == (after is not None):
        raise click.UsageError("give a time like 10m, or --off")
    api = client()
    policy = dict(api.get(f"/organizations/{ref}")["policy"])
    policy["restore_lost_after_seconds"] = None if off else parse_duration(after or "")
    o = api.request("PATCH", f"/organizations/{ref}", json={"policy": policy})
    seconds = o["policy"]["restore_lost_after_seconds"]
    show(o, output, [[o["name"], "off" if seconds is None else f"after {seconds} s"]],
         ["NAME", "RESTORE LOST"])  # fmt: skip


@org.command("members")
@click.argument("ref")
@OUTPUT_OPTION
def members(ref: str, output: str) -> None:
    """List an organization's members and their roles."""
    items = client().get(f"/organizations/{ref}/members")
    show(items, output, [[m["user_name"], m["role"]] for m in items], ["USER", "ROLE"])


@org.command("add-member")
@click.argument("ref")
@click.argument("user")
@click.option("--role", type=click.Choice(["member", "admin", "owner"]), default="member")
@OUTPUT_OPTION
def add_member(ref: str, user: str, role: str, output: str) -> None:
    """Add USER to the organization REF (or change their role)."""
    m = client().post(f"/organizations/{ref}/members", {"user": user, "role": role})
    show(m, output, [[m["user_name"], m["role"]]], ["USER", "ROLE"])


@org.command("remove-member")
@click.argument("ref")
@click.argument("user")
def remove_member(ref: str, user: str) -> None:
    """Remove USER (name or id) from an organization."""
    client().request("DELETE", f"/organizations/{ref}/members/{user}")
    click.echo(f"removed {user} from {ref}")


@click.group("user")
def user() -> None:
    """Users (platform admins)."""


@user.command("create")
@click.argument("name")
@click.option("--email")
@click.option("--admin", is_flag=True, help="Make a platform admin.")
@click.option("--org", help="Also add to this organization.")
@click.option("--role", type=click.Choice(["member", "admin", "owner"]), default="member")
@click.option("--token", "with_token", is_flag=True, help="Also create a token for the user.")
@OUTPUT_OPTION
def user_create(
    name: str,
    email: str | None,
    admin: bool,
    org: str | None,
    role: str,
    with_token: bool,
    output: str,
) -> None:
    """Create a user (platform admins), optionally in an organization and with a token.

    \b
    Examples:
      roost user create mia --org acme --token     # prints mia's first token
      roost user create ops --admin
    """
    api = client()
    u = api.post("/users", {"name": name, "email": email, "is_admin": admin})
    doc: dict[str, object] = {"user": u}
    if org:
        doc["membership"] = api.post(
            f"/organizations/{org}/members", {"user": u["id"], "role": role}
        )
    if with_token:
        created = api.post("/tokens", {"user": u["id"], "name": f"{name} (created by admin)"})
        doc["token"] = created["secret"]
    show(doc, output, [[u["id"], u["name"], doc.get("token", "")]], ["ID", "NAME", "TOKEN"])


@user.command("list")
@OUTPUT_OPTION
def user_list(output: str) -> None:
    """List users (platform admins)."""
    items = client().get("/users")
    show(
        items, output, [[u["id"], u["name"], u["is_admin"]] for u in items], ["ID", "NAME", "ADMIN"]
    )


@org.command("delete")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask.")
def org_delete(ref: str, yes: bool) -> None:
    """Delete an organization with its projects, classes, secrets and memberships (owners and
    platform admins; refused while it has environments)."""
    if not yes:
        click.confirm(
            f"delete organization {ref} and its projects, classes and secrets?", abort=True
        )
    client().request("DELETE", f"/organizations/{ref}")
    click.echo(f"deleted organization {ref}")


@user.command("delete")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask.")
def user_delete(ref: str, yes: bool) -> None:
    """Delete a user with their tokens, SSH keys, secrets and memberships (platform admins;
    refused while they own environments)."""
    if not yes:
        click.confirm(f"delete user {ref}?", abort=True)
    client().request("DELETE", f"/users/{ref}")
    click.echo(f"deleted user {ref}")
