"""``roost env move ID --runner R``: one explicit operation to put an environment elsewhere.

The plane pins the environment to R and wants it running; its current runner (if any) stops it,
backs it up (verified) and hands it over; R restores and starts it. The ``move`` condition says
which step it is at (``roost env get``). ``roost env start ID --runner R`` does the same.
"""

from typing import Any

import click

from roost.cli.commands.env import TIMEOUT, WAIT, _print, env
from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION
from roost.core.errors import RoostError
from roost.core.schemas.environments import Environment


def move_and_wait(env_id: str, runner: str, wait: bool, timeout: float) -> dict[str, Any]:
    api = client()
    doc: dict[str, Any] = api.post(f"/environments/{env_id}/move", {"runner": runner})
    if not wait:
        return doc

    def done(e: Environment | None) -> bool:
        if e is None:
            raise RoostError(f"environment {env_id} was deleted while moving")
        caught_up = e.status.observed_spec_version >= e.spec.spec_version
        if caught_up and e.status.phase == "failed":
            raise RoostError(f"environment {env_id} failed: {e.status.message}")
        moved = e.status.conditions.get("move")
        arrived = moved is None or moved.phase == "ready"
        return arrived and caught_up and e.status.phase == "running"

    result = api.wait_for_environment(env_id, done, timeout)
    if result is None:  # done() refuses a deleted environment; this is for the type checker
        raise RoostError(f"environment {env_id} is gone")
    return result.model_dump(mode="json", by_alias=True)


@env.command("move")
@click.argument("env_id")
@click.option("--runner", required=True, help="The runner to move to (name or id).")
@WAIT
@TIMEOUT
@OUTPUT_OPTION
def move(env_id: str, runner: str, wait: bool, timeout: float, output: str) -> None:
    """Move an environment to another runner (running, stopped or failed): stop and back up
    where it is, restore and start on RUNNER. It stays pinned to RUNNER."""
    _print(move_and_wait(env_id, runner, wait, timeout), output)
