"""Environments by name or id on the command line, and their shell completion.

Every command that takes an environment (``roost env get|start|stop|delete|exec|logs|ports|ssh``
...) takes its id or its name. A name is looked up among the environments the caller can see:
one of the caller's own wins (names are unique per owner within an organization); otherwise the
only visible one of that name; otherwise the command stops and lists the candidates, with the id
to use. ``ENV`` is the click type that does this, and completes names (``roost completion``).
"""

from typing import Any

import click
from click.shell_completion import CompletionItem

from roost.cli.context import client
from roost.core import ids
from roost.core.errors import NotFound, RoostError

MAX_LISTED = 10


def pick(ref: str, visible: list[dict[str, Any]], mine: set[str]) -> str:
    """The id ``ref`` stands for among ``visible`` environments (``mine``: the caller's ids)."""
    if ids.is_id(ref):
        return ref
    named = [e for e in visible if e["metadata"]["name"] == ref]
    own = [e for e in named if e["metadata"]["id"] in mine]
    for found in (own, named):
        if len(found) == 1:
            return str(found[0]["metadata"]["id"])
    if not named:
        raise NotFound(
            f"environment {ref!r} not found (no environment you can see has that id or name);"
            " `roost env list` shows them"
        )
    candidates = own or named
    lines = [
        f"  {m['id']}  (owner {m['owner_id']}, organization {m['organization_id']})"
        for m in (e["metadata"] for e in candidates[:MAX_LISTED])
    ]
    raise RoostError(
        f"{len(candidates)} environments are named {ref!r}; use one of their ids:\n"
        + "\n".join(lines),
        code="ambiguous",
    )


def _live(envs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in envs if e["spec"]["desired_phase"] != "deleted"]


def resolve(ref: str) -> str:
    """The environment id for an id or a name (one or two API calls for a name)."""
    if ids.is_id(ref):
        return ref
    api = client()
    mine = _live(api.list_all("/environments", mine=True))
    own = [e for e in mine if e["metadata"]["name"] == ref]
    if len(own) == 1:
        return str(own[0]["metadata"]["id"])
    visible = _live(api.list_all("/environments"))
    return pick(ref, visible, {e["metadata"]["id"] for e in mine})


class EnvRef(click.ParamType):  # type: ignore[type-arg]
    name = "ENV"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not isinstance(value, str) or not value:
            self.fail("an environment id or name is needed", param, ctx)
        return resolve(value)  # a RoostError (not found, ambiguous) exits 1 with its message

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        try:
            envs = client().list_all("/environments", mine=True)
        except Exception:  # no server, no login: complete nothing, never fail
            return []
        names = sorted({e["metadata"]["name"] for e in envs if e["metadata"]["name"]})
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]


ENV = EnvRef()
