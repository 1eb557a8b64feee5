"""``roost audit``: the audit trail with names (users, environments, organizations, runners)
instead of ids, filtered by who, what, which object and outcome.

Organization admins read their organization's trail (``--org``), platform admins all of it.
Names are looked up in what the caller may list; an id nobody can name stays an id.
"""

from typing import Any

import click

from roost.cli.client import Client
from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION, show
from roost.core.errors import RoostError

HEADERS = ["AT", "ORG", "ACTOR", "ACTION", "TARGET", "OUTCOME", "DETAILS"]
MAX_EVENTS = 10_000


def _names(api: Client) -> dict[str, str]:
    """id -> name for what the caller can see (each list is optional: a member lists less)."""
    found: dict[str, str] = {}
    lists: list[tuple[str, Any]] = [
        ("/users", lambda d: d), ("/organizations", lambda d: d.get("items", d)),
    ]  # fmt: skip
    for path, items in lists:
        try:
            for item in items(api.get(path)):
                found[item["id"]] = item["name"]
        except (RoostError, KeyError, TypeError, AttributeError):
            continue
    for path in ("/environments", "/runners"):
        try:
            for item in api.list_all(path):
                meta = item.get("metadata", item)
                found[meta["id"]] = meta["name"]
        except (RoostError, KeyError, TypeError):
            continue
    return found


def _actor(actor: str, names: dict[str, str]) -> str:
    kind, _, ident = actor.partition(":")
    if not ident:
        return actor
    name = names.get(ident)
    return (name if kind == "user" else f"{kind} {name}") if name else actor


def _row(e: dict[str, Any], names: dict[str, str]) -> list[object]:
    target = e.get("target_id") or ""
    target_text = f"{e.get('target_kind', '')} {names.get(target, target)}".strip()
    details = ", ".join(f"{k}={v}" for k, v in (e.get("details") or {}).items())
    return [
        str(e["at"])[:19], names.get(e.get("organization_id") or "", "-"),
        _actor(e["actor"], names), e["action"], target_text, e["outcome"], details[:60],
    ]  # fmt: skip


def _matches(e: dict[str, Any], names: dict[str, str], want: dict[str, str | None]) -> bool:
    actor_name = _actor(e["actor"], names)
    target = e.get("target_id") or ""
    checks = [
        not want["actor"]
        or want["actor"] in (actor_name, e["actor"], e["actor"].partition(":")[2]),
        not want["action"] or e["action"].startswith(want["action"]),
        not want["target"] or want["target"] in (target, names.get(target)),
        not want["outcome"] or e["outcome"] == want["outcome"],
    ]
    return all(checks)


@click.command("audit")
@click.option("--org", help="Organization whose trail to read (platform admins: default all).")
@click.option("--actor", help="Only what this user (name or id) or runner did.")
@click.option("--action", help="Only actions starting with this (environment.exec, backup.).")
@click.option("--target", help="Only events about this object (a name or an id).")
@click.option("--denied", "outcome", flag_value="denied", help="Only refusals.")
@click.option("--allowed", "outcome", flag_value="allowed", help="Only what was allowed.")
@click.option("--last", type=click.IntRange(1, MAX_EVENTS), default=50, show_default=True,
              help="How many of the latest matching events.")  # fmt: skip
@OUTPUT_OPTION
def audit(
    org: str | None, actor: str | None, action: str | None, target: str | None,
    outcome: str | None, last: int, output: str,
) -> None:  # fmt: skip
    """Who did what, allowed or denied: the audit trail, with names.

    \b
    Examples:
      roost audit --denied                       # every refusal
      roost audit --org acme --actor mia         # what mia did in acme
      roost audit --action environment.exec --target dev
    """
    api = client()
    events = api.list_all("/audit", organization=org)[-MAX_EVENTS:]
    names = _names(api)
    want = {"actor": actor, "action": action, "target": target, "outcome": outcome}
    chosen = [e for e in events if _matches(e, names, want)][-last:]
    show(chosen, output, [_row(e, names) for e in chosen], HEADERS)
