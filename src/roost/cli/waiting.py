"""What ``--wait`` shows while it waits: why (no runner fits, and why not), and each long step
(pulling, building, restoring, hooks) as the runner reports it -- one line per change on a
terminal, nothing on a pipe -- and, if it gives up, what the environment was doing."""

import sys

import click

from roost.core.schemas.environments import Environment


def describe(e: Environment) -> str:
    """One line: the phase, and what is in progress or holding it up."""
    steps = [
        f"{part}: {c.message}" for part, c in sorted(e.status.conditions.items())
        if c.phase in ("progressing", "pending") and c.message
    ]  # fmt: skip
    why = "; ".join(steps) or e.status.message
    return f"{e.status.phase}: {why}" if why else e.status.phase


class Progress:
    """Prints :func:`describe` to stderr when it changes (only when stderr is a terminal)."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.last = ""

    def show(self, e: Environment | None) -> None:
        if e is None or not self.enabled:
            return
        line = describe(e)
        if line != self.last:
            click.echo(f"  {line}"[:200], err=True)
            self.last = line


EXIT_HINTS = {
    137: "the command was killed (SIGKILL)",
    254: "the command could not be started in the environment",
}


def exit_hint(code: int, env: dict[str, object] | None) -> str:
    """What to print on stderr when ``roost env exec`` ends with 137 or 254 (empty otherwise):
    those codes are the environment's, not the command's -- its resources condition says why
    (out of memory, the process limit)."""
    if code not in EXIT_HINTS:
        return ""
    why = ""
    if env is not None:
        status = env.get("status")
        conditions = status.get("conditions", {}) if isinstance(status, dict) else {}
        resources = conditions.get("resources") if isinstance(conditions, dict) else None
        message = str(resources.get("message", "")) if isinstance(resources, dict) else ""
        why = "; ".join(p for p in message.split("; ")[1:] if p)  # what follows the limits
    detail = (
        why or "it may have run out of memory or processes; `roost env get ENV` shows its limits"
    )
    return f"roost: exit {code}: {EXIT_HINTS[code]}: {detail}"
