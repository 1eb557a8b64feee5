"""The devcontainer step: from a repository's devcontainer.json to a configured environment.

``before_start`` (first start only; the configuration is pinned for the environment's life):
find and resolve the file in the cloned workspace, refuse what the security policy refuses,
run ``initializeCommand`` in the host sandbox, choose or build the image, and record what the
environment needs (container and remote variables, users, workspace folder and mount).

``after_start``: once, merge with the image's ``devcontainer.metadata`` label, resolve the remote
user, hand the workspace to it, then run the create-time hooks (``onCreateCommand``,
``updateContentCommand``, ``postCreateCommand``) once per environment and the per-start hooks
(``postStartCommand``, ``postAttachCommand``) once per start. Hooks up to ``waitFor`` (default
``updateContentCommand``) finish before the environment reports ``running``; the rest run in the
background while the environment is already usable. A failing hook marks the ``devcontainer``
condition failed with the hook and its exit code; the environment stays up for debugging.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any

from roost.core.devcontainer import jsonc, locate, merge, readconf
from roost.core.devcontainer.model import LIFECYCLE
from roost.core.devcontainer.substitute import Variables, substitute
from roost.core.errors import PermanentError
from roost.runner import sandbox
from roost.runner.devcontainer import commands, policy, users
from roost.runner.devcontainer.build import ImageBuilder, NoBuilder, needs_build
from roost.runner.devcontainer.logs import LogStore
from roost.runner.state import LocalEnv, StateStore
from roost.runner.steps import Step, StepContext

log = logging.getLogger(__name__)
CREATE_HOOKS = ("onCreateCommand", "updateContentCommand", "postCreateCommand")
START_HOOKS = ("postStartCommand", "postAttachCommand")
LabelLookup = Callable[[str], Awaitable[str | None]]
"""The ``devcontainer.metadata`` label of an image in the runner's store."""


class DevcontainerStep(Step):
    name = "devcontainer"

    def __init__(
        self,
        logs: LogStore,
        state: StateStore,
        image_labels: LabelLookup,
        builder: ImageBuilder | None = None,
        default_image: str = "",
        after_create: list[Callable[[StepContext], Any]] | None = None,
    ) -> None:
        self.logs = logs
        self.state = state
        self.image_labels = image_labels
        self.builder = builder or NoBuilder()
        self.default_image = default_image
        self.after_create = after_create or []
        """Callbacks run after postCreateCommand (dotfiles), as the remote user."""
        self._background: dict[str, asyncio.Task[bool]] = {}

    async def before_start(self, ctx: StepContext) -> None:
        local = ctx.local
        if local is None or local.devcontainer:
            return  # configured already (the configuration is pinned for the environment's life)
        try:
            found = locate.find(ctx.workspace, ctx.env.spec.devcontainer_path)
        except jsonc.ConfigError as exc:
            raise PermanentError(str(exc), code="invalid_devcontainer") from None
        if found is None:
            return
        await ctx.report(
            "devcontainer", "progressing", f"reading {found.relative_to(ctx.workspace)}"
        )
        resolved = self._resolve(ctx, found)
        if resolved.config.docker_compose_file:
            raise PermanentError(
                f"{found.relative_to(ctx.workspace)}: Compose configurations are read (`roost "
                "devcontainer read-configuration`) but not yet run by this runner; use image "
                "or build",
                code="invalid_devcontainer",
            )
        grants = policy.check(
            resolved.config, str(found.relative_to(ctx.workspace)),
            nested_allowed=ctx.env.spec.resources.nested_containers,
            class_name=ctx.env.spec.class_name,
        )  # fmt: skip
        local.cap_add, local.tmpfs = grants.cap_add, grants.tmpfs
        local.nested_containers = grants.nested_containers
        await self._initialize(ctx, resolved)
        if not local.layers:  # else pinned already: a restored writable layer sits on its image
            local.wanted_image = await self._image(ctx, resolved)
        self._record(local, resolved)

    def _resolve(self, ctx: StepContext, found: Any) -> readconf.Resolved:
        folder = ctx.workspace
        container = f"/workspaces/{folder.name}"
        if ctx.local is not None and ctx.local.workspace_target.startswith("/workspaces/"):
            container = ctx.local.workspace_target
        try:
            return readconf.resolve(
                found, folder, local_env={}, id_labels={"roost.environment": ctx.env.id},
                default_folder=container, local_name=PurePosixPath(container).name,
            )  # fmt: skip
        except jsonc.ConfigError as exc:
            raise PermanentError(str(exc), code="invalid_devcontainer") from None

    async def _initialize(self, ctx: StepContext, resolved: readconf.Resolved) -> None:
        command = resolved.configuration.get("initializeCommand")
        if not command:
            return
        path = self.logs.open_run(ctx.env.id, "initializeCommand", "initializeCommand (sandboxed)")
        argv = commands.argv_of(command) if not isinstance(command, dict) else None
        runs = [argv] if argv else [commands.argv_of(c) for c in command.values()]
        for one in runs:
            result = await sandbox.run(one, cwd=ctx.workspace, log=path, timeout=600)
            if result.code != 0:
                raise PermanentError(
                    f"initializeCommand failed with exit code {result.code}; see `roost env logs "
                    f"{ctx.env.id} --step initializeCommand`"
                )

    async def _image(self, ctx: StepContext, resolved: readconf.Resolved) -> str:
        base = resolved.configuration.get("image") or ctx.env.spec.image or self.default_image
        if not needs_build(resolved):
            return str(base)
        await ctx.report("devcontainer", "progressing", "building the image")
        path = self.logs.open_run(ctx.env.id, "build", "image build")

        def write(text: str) -> None:
            with path.open("a") as f:
                f.write(text)

        return await self.builder.build(resolved, str(base), ctx.env.id, write)

    @staticmethod
    def _record(local: LocalEnv, resolved: readconf.Resolved) -> None:
        conf = resolved.configuration
        local.devcontainer = dict(conf)
        local.workdir = resolved.workspace_folder
        local.workspace_target = (
            _mount_target(resolved.workspace_mount or "") or resolved.workspace_folder
        )
        local.container_env = {k: str(v) for k, v in (conf.get("containerEnv") or {}).items()}

    async def after_start(self, ctx: StepContext) -> None:
        local = ctx.local
        if local is None or not local.devcontainer:
            return
        task = self._background.get(ctx.env.id)
        if task is not None and not task.done():
            return
        if local.hook_failure == f"{ctx.env.spec.spec_version}":
            return  # failed for this spec: left for debugging; `roost env start` retries
        merged = await self._settle_users(ctx, local)
        pending = [h for h in CREATE_HOOKS if h not in local.hooks_done]
        pid = await ctx.running_pid()
        if pid and pid != local.started_pid:
            pending += list(START_HOOKS)
        if not pending:
            await _ready(ctx, local)
            return
        wait_for = local.devcontainer.get("waitFor") or "updateContentCommand"
        now, later = _split(pending, str(wait_for))
        if not await self._hooks(ctx, local, merged, now, pid, last=not later):
            return
        if later:  # the condition stays "progressing" until these are done too
            self._background[ctx.env.id] = asyncio.create_task(
                self._hooks(ctx, local, merged, later, pid, last=True)
            )

    async def _settle_users(self, ctx: StepContext, local: LocalEnv) -> dict[str, Any]:
        label = await self.image_labels(local.image_ref)
        merged = merge.merge(dict(local.devcontainer), merge.metadata_entries(label))
        if local.remote_user or local.remote_uid:
            await self._probe(ctx, local, merged)
            return merged
        user = merged.get("remoteUser") or merged.get("containerUser") or ""
        if user:
            local.remote_uid, local.remote_gid = await users.resolve(ctx.driver, ctx.env.id, user)
        local.remote_user = str(user)
        image_env = dict(e.split("=", 1) for e in local.image_env if "=" in e)
        container_env = {**image_env, **(merged.get("containerEnv") or {})}
        variables = Variables(str(ctx.workspace), local.workdir, container_env=container_env)
        remote = substitute(merged.get("remoteEnv") or {}, variables)
        local.remote_env = {k: str(v) for k, v in remote.items() if v is not None}
        if local.remote_uid:
            await self._give_workspace(ctx, local)
        await self._make_workdir(ctx, local)
        await self._probe(ctx, local, merged)
        self.state.save(local)
        return merged

    async def _make_workdir(self, ctx: StepContext, local: LocalEnv) -> None:
        """A ``workspaceFolder`` outside the repository's mount (``/mnt/src/app``) is where
        commands start; like ``docker run -w``, make it when the image lacks it."""
        inside = PurePosixPath(local.workdir).is_relative_to(local.workspace_target)
        if not local.workdir or inside:
            return
        path = self.logs.open_run(ctx.env.id, "setup", f"workspace folder {local.workdir}")
        argv = ["mkdir", "-p", local.workdir]
        await commands.run(ctx.driver, ctx.env.id, argv, user="0:0", env={}, cwd="/", log=path)

    async def _probe(self, ctx: StepContext, local: LocalEnv, merged: dict[str, Any]) -> None:
        """The remote user's login variables, once per start (``devcontainer/users.py``)."""
        pid = await ctx.running_pid() or 0
        if local.user_env and local.probed_pid == pid:
            return
        who = await users.account(ctx.driver, ctx.env.id, local.remote_user or local.remote)
        probe = str(merged.get("userEnvProbe") or "loginInteractiveShell")
        given = {**local.container_env, **local.remote_env}
        local.user_env = await users.session_env(ctx.driver, ctx.env.id, who, probe, given)
        local.probed_pid = pid
        self.state.save(local)

    async def _give_workspace(self, ctx: StepContext, local: LocalEnv) -> None:
        owner = local.remote
        argv = ["chown", "-R", owner, local.workspace_target]
        path = self.logs.open_run(ctx.env.id, "setup", f"workspace for {local.remote_user}")
        await commands.run(ctx.driver, ctx.env.id, argv, user="0:0", env={}, cwd="/", log=path)

    async def _hooks(
        self, ctx: StepContext, local: LocalEnv, merged: dict[str, Any], hooks: list[str],
        pid: int | None, *, last: bool,
    ) -> bool:  # fmt: skip
        user = local.remote
        env = local.remote_variables
        for hook in hooks:
            for command in merged.get(hook + "s", []):
                await ctx.report("devcontainer", "progressing", f"running {hook}")
                path = self.logs.open_run(ctx.env.id, hook, hook)
                outcome = await commands.run(
                    ctx.driver, ctx.env.id, command, user=user, env=env, cwd=local.workdir, log=path
                )
                if outcome.code != 0:
                    local.hook_failure = f"{ctx.env.spec.spec_version}"
                    self.state.save(local)
                    which = f" ({outcome.name})" if outcome.name else ""
                    await ctx.report(
                        "devcontainer", "failed",
                        f"{hook}{which} failed with exit code {outcome.code}; see "
                        f"`roost env logs {ctx.env.id} --step {hook}`",
                        hook=hook, exit_code=outcome.code,
                    )  # fmt: skip
                    return False
            if hook in CREATE_HOOKS:
                local.hooks_done.append(hook)
                if hook == "postCreateCommand":
                    for callback in self.after_create:
                        await callback(ctx)
            elif pid:
                local.started_pid = pid
            self.state.save(local)
        if last:
            await _ready(ctx, local)
        return True

    async def settled(self, env_id: str) -> None:
        """Wait for the hooks still running in the background (automations start after them)."""
        task = self._background.get(env_id)
        if task is not None and not task.done():
            await asyncio.wait([task])  # its outcome is the devcontainer condition's business

    async def settle_users(self, ctx: StepContext) -> None:
        """Resolve the remote user now (idempotent; secret files are written for it)."""
        if ctx.local is not None and ctx.local.devcontainer:
            await self._settle_users(ctx, ctx.local)

    async def on_remove(self, env_id: str, workspace: Any) -> None:
        task = self._background.pop(env_id, None)
        if task is not None:
            task.cancel()
        self.logs.remove(env_id)


def _split(pending: list[str], wait_for: str) -> tuple[list[str], list[str]]:
    """Hooks to finish before ``running`` (through ``waitFor``) and the rest."""
    order = list(LIFECYCLE)
    cut = order.index(wait_for) if wait_for in order else order.index("updateContentCommand")
    now = [h for h in pending if order.index(h) <= cut]
    return now, [h for h in pending if order.index(h) > cut]


def _mount_target(mount: str) -> str:
    for part in mount.split(","):
        key, _, value = part.partition("=")
        if key.strip() in ("target", "dst", "destination"):
            return value.strip().strip('"')
    return ""


async def _ready(ctx: StepContext, local: LocalEnv) -> None:
    """Ready, with the create-time hooks done so far: they travel with the writable layer (the
    reference CLI keeps its markers inside the container), see ``backup/step.py``."""
    await ctx.report("devcontainer", "ready", "ready", hooks_done=list(local.hooks_done))
