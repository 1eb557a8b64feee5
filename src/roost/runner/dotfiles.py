"""Dotfiles: the owner's personal configuration repository, installed into new environments.

Once per environment, after ``postCreateCommand`` (the devcontainer step's ``after_create``
callback; environments without a devcontainer get it after their first start), the runner
clones the owner's repository (``roost user dotfiles set URL``) into the remote user's home as
``~/dotfiles`` and runs the first install script it has, by the devcontainer CLI's conventional
names (:data:`SCRIPTS`), as the remote user. Without a script, the repository's dotfiles
(``.*``, not ``.git``) are symlinked into the home.

git runs inside the environment, as the remote user, when the image has it; otherwise the clone
is made in the host sandbox (unprivileged, like workspace clones) and copied in with ``tar``.
A failure is reported in the ``dotfiles`` condition and the log (``roost env logs ID --step
dotfiles``); the environment stays up. Public repositories only: a credential for the dotfiles
repository is not supported yet. A path or ``file://`` URL names the runner host's files: it is
refused unless the runner allows local repositories (``allow_local_repos``, as workspace clones).
"""

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from roost.core.errors import RoostError
from roost.core.repo_urls import is_local
from roost.core.schemas.dotfiles import Dotfiles
from roost.runner import sandbox
from roost.runner.devcontainer.logs import LogStore
from roost.runner.idalloc import WORKSPACE_ID_BASE
from roost.runner.runtime.base import ExecRequest
from roost.runner.state import StateStore
from roost.runner.steps import Step, StepContext

log = logging.getLogger(__name__)
SCRIPTS = ("install.sh", "install", "bootstrap.sh", "bootstrap", "script/bootstrap", "setup.sh",
           "setup", "script/setup")  # fmt: skip
DONE = "dotfiles"
"""Marker in ``LocalEnv.hooks_done``: installed (or tried) once for this environment."""
NO_GIT = 97
INSTALL = r"""
home=$(awk -F: -v u="$(id -u)" '$3 == u { print $6; exit }' /etc/passwd 2>/dev/null)
export HOME="${home:-$HOME}"
mkdir -p "$HOME" && cd "$HOME" || exit 1
if [ -e dotfiles ]; then
  echo "$HOME/dotfiles exists; not cloned again"
elif [ "$2" = unpack ]; then
  mkdir dotfiles && tar -x -C dotfiles || exit 1
elif command -v git >/dev/null 2>&1; then
  git clone --depth 1 -- "$1" dotfiles || exit 1
else
  exit 97
fi
cd dotfiles || exit 1
for s in install.sh install bootstrap.sh bootstrap script/bootstrap setup.sh setup script/setup; do
  if [ -f "$s" ]; then
    echo "running $s"
    chmod +x "$s" && exec "./$s"
  fi
done
echo "no install script: linking the dotfiles into $HOME"
for f in .[!.]* ..?*; do
  [ -e "$f" ] && [ "$f" != .git ] && ln -sfn "$PWD/$f" "$HOME/$f" && echo "linked $f"
done
exit 0
"""
"""``sh -c INSTALL roost-dotfiles URL [unpack]``, as the remote user."""


class DotfilesStep(Step):
    name = "dotfiles"

    def __init__(
        self, fetch: Callable[[str], Awaitable[Dotfiles]], logs: LogStore, state: StateStore
    ) -> None:
        self.fetch = fetch
        self.logs = logs
        self.state = state
        self.allow_local = False
        """Clone dotfiles given as host paths (the runner's ``allow_local_repos``)."""
        self._early: dict[str, asyncio.Future[Dotfiles]] = {}
        """The owner's setting, asked for while the environment starts (a round trip less)."""

    async def before_start(self, ctx: StepContext) -> None:
        local = ctx.local
        if local is not None and DONE not in local.hooks_done and ctx.env.id not in self._early:
            self._early[ctx.env.id] = asyncio.ensure_future(self.fetch(ctx.env.id))

    async def _setting(self, env_id: str) -> Dotfiles:
        early = self._early.pop(env_id, None)
        return await early if early is not None else await self.fetch(env_id)

    async def on_remove(self, env_id: str, workspace: object) -> None:
        early = self._early.pop(env_id, None)
        if early is not None:
            early.cancel()

    async def after_start(self, ctx: StepContext) -> None:
        """Environments without a devcontainer (those with one: :meth:`install`, after
        ``postCreateCommand``)."""
        if ctx.local is not None and not ctx.local.devcontainer:
            await self.install(ctx)

    async def install(self, ctx: StepContext) -> None:
        local = ctx.local
        if local is None or DONE in local.hooks_done:
            return
        try:
            url = (await self._setting(ctx.env.id)).url
        except RoostError as exc:
            log.warning("environment %s: no dotfiles setting: %s", ctx.env.id, exc.message)
            return  # the plane is away: the next start tries again
        local.hooks_done.append(DONE)
        self.state.save(local)
        if not url:
            return
        if is_local(url) and not self.allow_local:
            await ctx.report(
                "dotfiles",
                "failed",
                f"{url} is a path on the runner host; this "
                "runner installs dotfiles from URLs only (https://, ssh://, ...)",
            )
            return
        await ctx.report("dotfiles", "progressing", f"installing {url}")
        path = self.logs.open_run(ctx.env.id, "dotfiles", f"dotfiles from {url}")
        user = local.remote
        env = local.remote_variables
        code = await _run(ctx, user, env, [url], None, path)
        if code == NO_GIT:
            code = await self._host_clone(ctx, user, env, url, path)
        if code != 0:
            await ctx.report("dotfiles", "failed",
                             f"installing {url} failed with exit code {code}; see `roost env "
                             f"logs {ctx.env.id} --step dotfiles`", exit_code=code)  # fmt: skip
            return
        await ctx.report("dotfiles", "ready", f"installed {url}")

    async def _host_clone(
        self, ctx: StepContext, user: str, env: dict[str, str], url: str, path: Path
    ) -> int:
        """No git in the image: clone in the host sandbox, stream it in as a tar archive."""
        with path.open("a") as f:
            f.write("no git in the image: cloning on the runner (sandboxed)\n")
        scratch = Path(tempfile.mkdtemp(prefix="roost-dotfiles-"))
        try:
            shutil.chown(scratch, WORKSPACE_ID_BASE, WORKSPACE_ID_BASE)
            result = await sandbox.run(
                ["git", "clone", "--quiet", "--depth", "1", "--", url, "dotfiles"],
                cwd=scratch, log=path, env={"GIT_TERMINAL_PROMPT": "0"},
            )  # fmt: skip
            if result.code != 0:
                return result.code
            tar = await asyncio.create_subprocess_exec(
                "tar", "-C", str(scratch / "dotfiles"), "--exclude=.git", "-c", ".",
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            archive, _ = await tar.communicate()
            return await _run(ctx, user, env, [url, "unpack"], archive, path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


async def _run(
    ctx: StepContext, user: str, env: dict[str, str], args: list[str], stdin: bytes | None,
    path: Path,
) -> int:  # fmt: skip
    request = ExecRequest(
        argv=["/bin/sh", "-c", INSTALL, "roost-dotfiles", *args], user=user, env=env, cwd="/"
    )
    proc = await ctx.driver.exec(ctx.env.id, request)
    if stdin:
        await proc.write_stdin(stdin)
    await proc.close_stdin()
    with path.open("ab") as out:
        while (chunk := await proc.read())[0] != 0:
            out.write(chunk[1])
    return await proc.wait()
