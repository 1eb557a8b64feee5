"""``roost runner list`` and ``roost runner token`` (running a runner is in ``serve.py``)."""

from typing import Any

import click

from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION, emit_json, show
from roost.cli.timespec import parse_duration


def _row(r: dict[str, Any]) -> list[object]:
    cap, used = r["capacity"], r["allocated"]
    return [
        r["id"],
        r["name"],
        r["region"],
        r["state"],
        f"{used['environments']}/{cap['environments']}",
        f"{used['cpu']:g}/{cap['cpu']:g}",
        r.get("access_url") or "-",
    ]


def add_commands(group: click.Group) -> None:
    @group.command("list")
    @OUTPUT_OPTION
    def list_(output: str) -> None:
        """List runners and their capacity."""
        items = client().list_all("/runners")
        show(
            items,
            output,
            [_row(r) for r in items],
            ["ID", "NAME", "REGION", "STATE", "ENVS", "CPU", "ACCESS"],
        )

    @group.command("token")
    @click.option("--name", default="")
    @click.option("--expires", default="1d", show_default=True, help="Like 1d, 12h.")
    @OUTPUT_OPTION
    def token(name: str, expires: str, output: str) -> None:
        """Make a one-time registration token for a new runner (platform admins)."""
        doc = client().post(
            "/runners/registration-tokens",
            {"name": name, "expires_in_seconds": parse_duration(expires)},
        )
        if output == "json":
            emit_json(doc)
        else:
            click.echo(doc["secret"])

    @group.command("delete")
    @click.argument("ref")
    def delete(ref: str) -> None:
        """Forget a runner; its environments show 'unknown' until deleted."""
        client().request("DELETE", f"/runners/{ref}")
        click.echo(f"removed runner {ref}")
