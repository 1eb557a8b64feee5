"""``roost env``: create, list, get, start, stop, delete, exec."""

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from roost.cli.context import client
from roost.cli.envref import ENV
from roost.cli.localrepo import warn_uncommitted
from roost.cli.output import OUTPUT_OPTION, emit_json, show
from roost.cli.waiting import EXIT_HINTS, Progress, exit_hint
from roost.core.errors import RoostError
from roost.core.schemas.environments import Environment

WAIT = click.option("--wait", is_flag=True, help="Return only when the change is done.")
TIMEOUT = click.option(
    "--timeout", type=float, default=600.0, show_default=True, help="For --wait."
)


@click.group("env")
def env() -> None:
    """Development environments."""


def _summary(e: Environment) -> list[object]:
    failed = sorted(p for p, c in e.status.conditions.items() if c.phase == "failed")
    phase = e.status.phase.upper() if e.status.phase == "failed" else e.status.phase
    if failed and e.status.phase != "failed":  # up, but a part (a hook) failed: say so
        what = [str(e.status.conditions[p].details.get("hook") or p) for p in failed]
        phase = f"{phase}, {'+'.join(what)} FAILED"
    message = e.status.conditions[failed[0]].message if failed else e.status.message
    owner = e.metadata.owner_name or e.metadata.owner_id
    return [e.metadata.id, e.metadata.name, owner, phase, e.spec.desired_phase,
            e.spec.class_name, message[:60]]  # fmt: skip


HEADERS = ["ID", "NAME", "OWNER", "PHASE", "DESIRED", "CLASS", "MESSAGE"]


def _print(doc: dict[str, Any], output: str) -> None:
    e = Environment.model_validate(doc)
    show(doc, output, [_summary(e)], HEADERS)


def _content(source: str | None, ref: str | None, full_history: bool) -> dict[str, Any]:
    if source is None:
        return {}
    path = Path(source)
    if path.exists():
        warn_uncommitted(path)
    url = str(path.resolve()) if path.exists() else source
    return {"repo_url": url, "ref": ref, "full_history": full_history}


@env.command("create")
@click.argument("source", required=False, metavar="[REPO_URL|PATH]")
@click.option("--ref", help="Branch, tag or commit to check out.")
@click.option("--full-history", is_flag=True, help="Clone the whole history (default: shallow).")
@click.option("--image", help="Image reference (default: the runner's base image).")
@click.option("--class", "class_name", help="Environment class (see `roost class list`).")
@click.option("--name", help="Name (default: from the repository).")
@click.option("--org", help="Organization (default: your only one).")
@click.option("--project", help="Project whose defaults to use.")
@click.option("--runner", help="Run on this runner.")
@click.option("--region", help="Run in this region.")
@click.option("--devcontainer", "devcontainer_path", help="devcontainer.json to use.")
@click.option("--credential-secret", help="Secret that opens a private repository.")
@click.option(
    "--nested-containers", is_flag=True, help="Run Docker/Podman inside (the class must allow it)."
)
@WAIT
@TIMEOUT
@OUTPUT_OPTION
def create(
    source: str | None,
    ref: str | None,
    full_history: bool,
    image: str | None,
    class_name: str | None,
    name: str | None,
    org: str | None,
    project: str | None,
    runner: str | None,
    region: str | None,
    devcontainer_path: str | None,
    credential_secret: str | None,
    nested_containers: bool,
    wait: bool,
    timeout: float,
    output: str,
) -> None:
    """Create an environment (and start it).

    \b
    Examples:
      roost env create https://git.example/acme/api.git --wait
      roost env create . --name dev --class large --wait     # this repository's last commit
      roost env create --image debian:12 --name scratch
    """
    spec: dict[str, Any] = {"content": _content(source, ref, full_history)}
    if credential_secret:
        spec["content"]["credential_secret"] = credential_secret
    if nested_containers:
        spec["nested_containers"] = True
    for key, value in (
        ("image", image),
        ("class", class_name),
        ("runner", runner),
        ("region", region),
        ("devcontainer_path", devcontainer_path),
    ):
        if value is not None:
            spec[key] = value
    body = {"name": name, "organization": org, "project": project, "spec": spec}
    api = client()
    doc = api.create("/environments", {k: v for k, v in body.items() if v is not None})
    if wait:
        doc = _wait(api, doc["metadata"]["id"], "running", timeout)
    _print(doc, output)


@env.command("list")
@click.option("--org", help="Only this organization.")
@click.option("--mine", is_flag=True, help="Only environments you own.")
@OUTPUT_OPTION
def list_(org: str | None, mine: bool, output: str) -> None:
    """List environments you can see (failed ones, and failed hooks, in capitals).

    \b
    Examples:
      roost env list --mine
      roost env list --org acme -o json
    """
    items = client().list_all("/environments", organization=org, mine=mine or None)
    envs = [Environment.model_validate(i) for i in items]
    show(items, output, [_summary(e) for e in envs], HEADERS)


@env.command("get")
@click.argument("env_id", type=ENV, metavar="ENV")
@OUTPUT_OPTION
def get(env_id: str, output: str) -> None:
    """Show one environment (spec and status)."""
    doc = client().get(f"/environments/{env_id}")
    if output == "json":
        emit_json(doc)
        return
    e = Environment.model_validate(doc)
    _print(doc, output)
    click.echo(
        f"\nspec_version {e.spec.spec_version}, observed {e.status.observed_spec_version}, "
        f"runner {e.status.runner_id or '-'}"
    )
    for part, cond in sorted(e.status.conditions.items()):
        click.echo(f"  {part:<12} {cond.phase:<11} {cond.message}")


def _phase_command(name: str, verb: str, target: str) -> None:
    @env.command(name, help=f"{verb.capitalize()} an environment.")
    @click.argument("env_id", type=ENV, metavar="ENV")
    @WAIT
    @TIMEOUT
    @OUTPUT_OPTION
    def command(env_id: str, wait: bool, timeout: float, output: str) -> None:
        api = client()
        method = "DELETE" if name == "delete" else "POST"
        path = f"/environments/{env_id}" + ("" if name == "delete" else f"/{name}")
        doc = api.request(method, path)
        if wait:
            doc = _wait(api, env_id, target, timeout)
        if doc is None:
            click.echo(f"environment {env_id} deleted")
        else:
            _print(doc, output)


@env.command("start")
@click.argument("env_id", type=ENV, metavar="ENV")
@click.option(
    "--runner",
    help="Start it on this runner: `roost env move` (stop and back up where it is, restore there).",
)
@WAIT
@TIMEOUT
@OUTPUT_OPTION
def start(env_id: str, runner: str | None, wait: bool, timeout: float, output: str) -> None:
    """Start an environment; a stopped one gets its work back from its latest backup."""
    if runner is not None:  # the same operation as `roost env move`
        from roost.cli.commands.env_move import move_and_wait  # noqa: PLC0415 - import cycle

        _print(move_and_wait(env_id, runner, wait, timeout), output)
        return
    api = client()
    doc = api.post(f"/environments/{env_id}/start")
    if wait:
        doc = _wait(api, env_id, "running", timeout)
    _print(doc, output)


@env.command("backups")
@click.argument("env_id", type=ENV, metavar="ENV")
@OUTPUT_OPTION
def backups(env_id: str, output: str) -> None:
    """List an environment's verified backups, newest first."""
    items = client().get(f"/environments/{env_id}/backups")
    rows = [
        [b["id"][:8], b["kind"], f"{b['size_bytes'] / (1 << 20):.1f} MiB",
         f"{b['added_bytes'] / (1 << 20):.1f} MiB", f"{b['duration_seconds']:.1f} s",
         b["created_at"][:19], b["state"]]
        for b in items
    ]  # fmt: skip
    show(items, output, rows, ["SNAPSHOT", "KIND", "SIZE", "NEW", "TOOK", "CREATED", "STATE"])


_phase_command("stop", "stop", "stopped")
_phase_command("delete", "delete", "deleted")


def _wait(api: Any, env_id: str, target: str, timeout: float) -> dict[str, Any] | None:
    progress = Progress()

    def done(e: Environment | None) -> bool:
        progress.show(e)
        if e is None:
            return target == "deleted"
        caught_up = e.status.observed_spec_version >= e.spec.spec_version
        if caught_up and e.status.phase == "failed":
            raise RoostError(f"environment {env_id} failed: {e.status.message}")
        if caught_up and target == "running":
            dev = e.status.conditions.get("devcontainer")
            if dev is not None and dev.phase == "progressing":
                return False  # its hooks are still running: "ready" means usable
            if dev is not None and dev.phase == "failed":
                click.echo(f"warning: {dev.message}", err=True)
        return caught_up and e.status.phase == target

    result = api.wait_for_environment(env_id, done, timeout)
    return None if result is None else result.model_dump(mode="json", by_alias=True)


@env.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("env_id", type=ENV, metavar="ENV")
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("-t/-T", "--tty/--no-tty", default=None,
              help="Use a terminal (default: when stdin is one).")  # fmt: skip
def exec_(env_id: str, argv: tuple[str, ...], tty: bool | None) -> None:
    """Run a command in an environment: roost env exec ENV -- CMD [ARGS...].

    Streams stdin, stdout and stderr, and exits with the command's exit status; it runs as the
    devcontainer's remote user, in the workspace, with the user's login environment.

    \b
    Examples:
      roost env exec dev -- make test
      roost env exec dev -- bash -l          # a shell (a terminal when stdin is one)
    """
    from roost.cli.execclient import run_exec  # noqa: PLC0415 - aiohttp only when needed

    use_tty = sys.stdin.isatty() if tty is None else tty
    ticket = client().post(f"/environments/{env_id}/exec")
    code = asyncio.run(run_exec(ticket["url"], ticket["ticket"], argv, use_tty))
    if code in EXIT_HINTS:  # the environment's doing, not the command's: say what happened
        click.echo(exit_hint(code, client().get(f"/environments/{env_id}")), err=True)
    sys.exit(code)
