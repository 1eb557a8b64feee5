"""``roost env backup ID``: back an environment up now, or retry its failed backup now.

A running environment is backed up at once (a live backup, like the periodic ones); a stopped
one whose backup at stop failed retries it instead of waiting for its back-off. ``--wait``
returns when the backup condition says how it went.
"""

from datetime import datetime

import click

from roost.cli.commands.env import TIMEOUT, WAIT, _print, env
from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION
from roost.core.errors import RoostError
from roost.core.schemas.environments import Environment


@env.command("backup")
@click.argument("env_id")
@WAIT
@TIMEOUT
@OUTPUT_OPTION
def backup(env_id: str, wait: bool, timeout: float, output: str) -> None:
    """Back an environment up now (or retry its failed backup now)."""
    api = client()
    before = _backup_time(Environment.model_validate(api.get(f"/environments/{env_id}")))
    doc = api.post(f"/environments/{env_id}/backup")
    if not wait:
        _print(doc, output)
        return

    def done(e: Environment | None) -> bool:
        if e is None:
            raise RoostError(f"environment {env_id} was deleted")
        cond = e.status.conditions.get("backup")
        if cond is None or cond.phase not in ("ready", "failed") or _backup_time(e) == before:
            return False
        if cond.phase == "failed":
            raise RoostError(f"the backup of {env_id} failed: {cond.message}")
        return True

    result = api.wait_for_environment(env_id, done, timeout)
    if result is not None:
        _print(result.model_dump(mode="json", by_alias=True), output)


def _backup_time(e: Environment) -> datetime | None:
    cond = e.status.conditions.get("backup")
    return cond.updated_at if cond is not None else None
