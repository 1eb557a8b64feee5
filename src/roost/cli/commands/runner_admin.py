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
        r["state"] + (",draining" if r.get("draining") else ""),
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
        """Forget a runner (drain it first if it is online). The environments of one that is
        offline go back to their last backups, as with `roost runner lost`."""
        client().request("DELETE", f"/runners/{ref}")
        click.echo(f"removed runner {ref}")

    @group.command("lost")
    @click.argument("ref")
    @OUTPUT_OPTION
    def lost(ref: str, output: str) -> None:
        """Declare an offline runner gone for good: its environments become stopped at their
        last backups (what they did since is lost); start or move them to use them again."""
        doc = client().post(f"/runners/{ref}/lost")
        show(doc, output, [_row(doc)], ["ID", "NAME", "REGION", "STATE", "ENVS", "CPU", "ACCESS"])

    @group.command("drain")
    @click.argument("ref")
    @click.option("--undo", is_flag=True, help="Take new environments again.")
    @OUTPUT_OPTION
    def drain(ref: str, undo: bool, output: str) -> None:
        """Take no new environments, and move each environment off (stop, back up, restore
        and start elsewhere; stopped ones are backed up and let go)."""
        doc = client().post(f"/runners/{ref}/drain", undo=True if undo else None)
        if output == "json":
            emit_json(doc)
            return
        for env_id in doc["moving"]:
            click.echo(f"moving {env_id}")
        for env_id, why in doc["stuck"].items():
            click.echo(f"cannot move {env_id}: {why}")
        state = "draining" if doc["runner"]["draining"] else "taking new environments"
        click.echo(f"runner {doc['runner']['name']}: {state}")
