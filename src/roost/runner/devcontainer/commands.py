"""Running devcontainer commands inside an environment, in the specification's forms:

* a string runs through ``/bin/sh -c`` (a shell inside the environment; never on the host);
* an array runs as argv, no shell;
* an object runs its values (each a string or an array) in parallel; it fails if any fails.

Output goes to the step's log file; the result is the exit status (the first failure's, for the
parallel form) and a one-line reason.
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.runner.runtime.base import ExecRequest, RuntimeDriver


@dataclass(frozen=True)
class Outcome:
    code: int
    name: str = ""
    """For the parallel form: which command failed."""


def argv_of(command: str | list[str]) -> list[str]:
    return ["/bin/sh", "-c", command] if isinstance(command, str) else [str(a) for a in command]


async def run_one(
    driver: RuntimeDriver,
    env_id: str,
    command: str | list[str],
    *,
    user: str,
    env: Mapping[str, str],
    cwd: str | None,
    log: Path,
    label: str = "",
) -> int:
    """Run one command form (string or array), appending its output to ``log``."""
    request = ExecRequest(argv=argv_of(command), env=dict(env), cwd=cwd, user=user)
    proc = await driver.exec(env_id, request)
    await proc.close_stdin()
    prefix = f"[{label}] ".encode() if label else b""
    with log.open("ab") as out:
        while True:
            stream, data = await proc.read()
            if stream == 0:
                break
            out.write(prefix + data if prefix else data)
            out.flush()
    return await proc.wait()


async def run(
    driver: RuntimeDriver,
    env_id: str,
    command: Any,
    *,
    user: str,
    env: Mapping[str, str],
    cwd: str | None,
    log: Path,
) -> Outcome:
    """Run ``command`` in any of its forms; the object form runs its entries in parallel."""
    if isinstance(command, dict):
        names = list(command)
        codes = await asyncio.gather(*(
            run_one(driver, env_id, command[n], user=user, env=env, cwd=cwd, log=log, label=n)
            for n in names
        ))  # fmt: skip
        for name, code in zip(names, codes, strict=True):
            if code != 0:
                return Outcome(code, name)
        return Outcome(0)
    return Outcome(await run_one(driver, env_id, command, user=user, env=env, cwd=cwd, log=log))
