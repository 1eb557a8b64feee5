"""``roost token``, ``roost login`` and ``roost whoami``."""

import click

from roost.cli import config
from roost.cli.client import Client
from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION, emit_json, show
from roost.cli.timespec import parse_duration


@click.group("token")
def token() -> None:
    """Your API tokens."""


@token.command("create")
@click.option("--name", default="")
@click.option("--expires", help="Lifetime such as 30d, 12h, 90m (default: none).")
@click.option("--user", help="For another user (platform admins).")
@OUTPUT_OPTION
def create(name: str, expires: str | None, user: str | None, output: str) -> None:
    """Create a token; it is shown once."""
    body: dict[str, object] = {"name": name, "user": user}
    if expires:
        body["expires_in_seconds"] = parse_duration(expires)
    doc = client().post("/tokens", body)
    if output == "json":
        emit_json(doc)
    else:
        click.echo(doc["secret"])
        click.echo(
            f"(token {doc['token']['id']}; it is not stored and cannot be shown again)", err=True
        )


@token.command("list")
@OUTPUT_OPTION
def list_(output: str) -> None:
    """List your tokens (never their secrets)."""
    items = client().get("/tokens")
    rows = [[t["id"], t["name"], t["expires_at"] or "-", t["revoked_at"] or "-"] for t in items]
    show(items, output, rows, ["ID", "NAME", "EXPIRES", "REVOKED"])


@token.command("revoke")
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke a token by id: it stops working at once."""
    client().request("DELETE", f"/tokens/{token_id}")
    click.echo(f"revoked {token_id}")


@click.command("login")
@click.argument("url", required=False)
@click.option("--token", "token_", envvar="ROOST_TOKEN", help="An API token.")
@click.option(
    "--web",
    is_flag=True,
    help="Print a one-use link (a minute) that signs a browser in to the dashboard.",
)
def login(url: str | None, token_: str | None, web: bool) -> None:
    """Check URL and TOKEN and remember them for later commands; or, with --web, sign a browser
    in as the user this CLI is logged in as (the token itself never goes into a URL)."""
    if web:
        api = Client(url, token_) if url and token_ else client()
        doc = api.post("/web/login-links")
        click.echo(doc["url"])
        click.echo("(open it within a minute; it works once)", err=True)
        return
    if not url or not token_:
        raise click.UsageError("give URL and --token TOKEN (or --web for a browser sign-in link)")
    who = Client(url, token_).get("/whoami")
    path = config.save(url, token_)
    name = (who.get("user") or {}).get("name") or who.get("runner_id")
    click.echo(f"logged in to {url} as {name} (saved in {path})")


@click.command("whoami")
@OUTPUT_OPTION
def whoami(output: str) -> None:
    """Show who the CLI is logged in as, and your organizations."""
    doc = client().get("/whoami")
    user = doc.get("user") or {}
    orgs = ", ".join(f"{m['organization_id']}:{m['role']}" for m in doc.get("memberships", []))
    dotfiles = user.get("dotfiles_url") or "-"
    show(
        doc,
        output,
        [[doc["kind"], user.get("name", ""), user.get("is_admin", ""), orgs, dotfiles]],
        ["KIND", "NAME", "ADMIN", "ORGANIZATIONS", "DOTFILES"],
    )
