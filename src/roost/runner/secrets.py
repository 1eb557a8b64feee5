"""Secrets on the runner: fetched at each start, injected as variables and files.

At every start (``before_start``) the runner asks the plane for the secrets of the environment
-- its owner's, its project's, its organization's; the plane settles clashes and answers only
the runner the environment is assigned to -- and keeps them **in memory only** (a
:class:`SecretCache`): never in the runner's state files or the OCI bundle. So a changed secret
reaches a running environment at its next start; a restarted runner fetches again on first use.

* **Variables** are added to every process the runner starts in the environment -- lifecycle
  hooks, automations, exec streams and SSH sessions -- by :class:`SecretEnvDriver`, which wraps
  the runtime driver. A variable that the request sets explicitly (``containerEnv``,
  ``remoteEnv``, an exec's own ``env``) wins. PID 1 (``roost-init``) does not get them: it runs
  nothing of the user's.
* **Files** are written inside the environment after it starts and before the devcontainer's
  hooks run, mode 0600, owned by the remote user (so are the directories made for them, such as
  ``/run/secrets``, mode 0700), the value passed on stdin (never on a command
  line, which other host processes could read).

The ``secrets`` condition says how many were injected -- names and counts only, never values.
The repository credential of ``spec.content.credential_secret`` is looked up here too
(:meth:`SecretCache.value`), for the content step's clone.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import PurePosixPath

from roost.core.errors import PermanentError, RoostError, TemporaryError
from roost.core.schemas.secrets import EnvironmentSecrets
from roost.runner.runtime.base import ExecProcess, ExecRequest, RuntimeDriver, WrappedDriver
from roost.runner.steps import Step, StepContext

log = logging.getLogger(__name__)
Fetch = Callable[[str], Awaitable[EnvironmentSecrets]]
WRITE_FILE = (
    'f="$1" o="$2"; shift 2; umask 077; '
    'for d in "$@"; do [ -d "$d" ] || { mkdir -- "$d" && chown "$o" "$d"; } || exit 1; done; '
    'cat > "$f" && chown "$o" "$f" && chmod 600 "$f"'
)
"""Run as root inside the environment: the value arrives on stdin; path, owner and the file's
parent directories (outermost first) as argv. Directories it has to make (``/run/secrets``)
belong to the file's owner, mode 0700: the remote user can reach its files, nobody else can;
directories that exist keep their owner and mode."""


class SecretCache:
    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        self._secrets: dict[str, EnvironmentSecrets] = {}

    async def refresh(self, env_id: str) -> EnvironmentSecrets:
        try:
            found = await self.fetch(env_id)
        except RoostError as exc:
            raise TemporaryError(f"cannot fetch the environment's secrets: {exc.message}") from exc
        self._secrets[env_id] = found
        return found

    async def get(self, env_id: str) -> EnvironmentSecrets:
        """The secrets fetched at the last start, or now (after a runner restart)."""
        found = self._secrets.get(env_id)
        return found if found is not None else await self.refresh(env_id)

    async def value(self, env_id: str, name: str) -> str | None:
        secret = (await self.get(env_id)).by_name(name)
        return secret.value if secret else None

    def forget(self, env_id: str) -> None:
        self._secrets.pop(env_id, None)


class SecretsStep(Step):
    name = "secrets"

    def __init__(
        self, cache: SecretCache, settle_users: Callable[[StepContext], Awaitable[None]]
    ) -> None:
        self.cache = cache
        self.settle_users = settle_users
        """Resolves the devcontainer's remote user (the files' owner) before its hooks run."""
        self._written: dict[str, int] = {}
        """Environment id -> the PID 1 its files were written for (once per run)."""
        self._early: dict[str, asyncio.Task[EnvironmentSecrets]] = {}

    async def before_start(self, ctx: StepContext) -> None:
        # Fetched while the environment starts (a round trip off the start); sessions and the
        # files below wait for it. Nothing in the container's first process needs them.
        if ctx.env.id not in self._early:
            self._early[ctx.env.id] = asyncio.create_task(self.cache.refresh(ctx.env.id))

    async def after_start(self, ctx: StepContext) -> None:
        early = self._early.pop(ctx.env.id, None)
        if early is not None:
            await early
        pid = await ctx.running_pid() or 0
        if self._written.get(ctx.env.id) == pid:
            return
        found = await self.cache.get(ctx.env.id)
        files = [s for s in found.items if s.file_path]
        if files:
            await self.settle_users(ctx)
        owner = ctx.local.remote if ctx.local else "0:0"
        for secret in files:
            await _write(ctx, secret.file_path or "", secret.value, owner, secret.name)
        variables = len(found.items) - len(files)
        names = sorted(s.name for s in found.items)
        message = f"{variables} as variables, {len(files)} as files"
        await ctx.report("secrets", "ready", message, names=names)
        self._written[ctx.env.id] = pid

    async def on_remove(self, env_id: str, workspace: object) -> None:
        early = self._early.pop(env_id, None)
        if early is not None:
            early.cancel()
        self.cache.forget(env_id)
        self._written.pop(env_id, None)


async def _write(ctx: StepContext, path: str, value: str, owner: str, name: str) -> None:
    parents = [str(p) for p in reversed(PurePosixPath(path).parents) if str(p) != "/"]
    argv = ["/bin/sh", "-c", WRITE_FILE, "roost-secret", path, owner, *parents]
    request = ExecRequest(argv=argv, user="0:0", cwd="/")
    proc = await ctx.driver.exec(ctx.env.id, request)
    await proc.write_stdin(value.encode())
    await proc.close_stdin()
    output = bytearray()
    while (chunk := await proc.read())[0] != 0:
        output += chunk[1]
    code = await proc.wait()
    if code != 0:
        detail = output.decode(errors="replace").strip()[-300:]
        message = f"cannot write secret {name} to {path}: {detail or f'exit code {code}'}"
        await ctx.report("secrets", "failed", message)
        raise PermanentError(message + "; choose another path with `roost secret set --file`")


class SecretEnvDriver(WrappedDriver):
    """A driver whose ``exec`` adds the environment's secret variables (under the request's)."""

    def __init__(self, inner: RuntimeDriver, cache: SecretCache) -> None:
        super().__init__(inner)
        self.cache = cache

    async def exec(self, env_id: str, request: ExecRequest) -> ExecProcess:
        try:
            variables = (await self.cache.get(env_id)).env()
        except TemporaryError as exc:  # the plane is away: the session still opens
            log.warning("environment %s: exec without its secrets: %s", env_id, exc.message)
            variables = {}
        if variables:
            request = replace(request, env={**variables, **request.env})
        return await self.inner.exec(env_id, request)
