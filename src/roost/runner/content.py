"""The workspace's content: a git clone of the environment's repository, or nothing.

Before the environment first starts, the repository is cloned into its workspace directory --
shallow by default (``--depth 1``), the whole history when the spec asks -- by git running in
the host sandbox (:mod:`roost.runner.sandbox`: unprivileged, no capabilities), so a hostile
repository cannot use a git bug to become root on the runner, and the files land owned by the
workspace owner (root inside the environment). A workspace that already has files (cloned
before, or restored from a backup) is left alone -- except on a retry of an environment that
failed before it ever got an image (``roost env start`` on a failed build): then the repository
is cloned again, so a pushed fix is seen.

Local paths and ``file://`` URLs (``roost env create ./repo``) name directories on the runner
host: runners refuse them unless their admin allows them (``allow_local_repos``; the
single-machine ``roost up`` does, and says so). Even then the clone runs in the same sandbox as
any other, so it reads only what any local user could read -- a root-only repository is not
cloned, whoever asks -- and git copies the objects (``--no-hardlinks``) rather than linking the
host's files into a workspace.

Errors say what to do: an unknown ref is permanent; an unreachable repository is retried (a
network outage heals), with git's own words in the status.
"""

import os
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from roost.core.errors import PermanentError, TemporaryError
from roost.core.repo_urls import is_local
from roost.core.schemas.environments import Environment
from roost.runner import gitcredential, sandbox
from roost.runner.idalloc import WORKSPACE_ID_BASE
from roost.runner.steps import Step, StepContext

UNREACHABLE = re.compile(
    r"Could not resolve host|Connection refused|timed out|Failed to connect|"
    r"Network is unreachable|unable to access",
    re.IGNORECASE,
)
UNKNOWN_REF = re.compile(r"Remote branch .* not found|couldn't find remote ref|not our ref", re.I)


Credential = Callable[[str, str], Awaitable[str | None]]
"""``(environment id, secret name)`` -> the secret's value, if the environment has it."""


def repo_name(url: str) -> str:
    base = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    clean = "".join(c if c.isalnum() or c in "-_." else "-" for c in base).strip("-.")
    return clean or "workspace"


class ContentStep(Step):
    name = "content"

    def __init__(
        self, *, allow_local_repos: bool = False, credential: Credential | None = None
    ) -> None:
        self.allow_local_repos = allow_local_repos
        self.credential = credential

    async def before_start(self, ctx: StepContext) -> None:
        content = ctx.env.spec.content
        local = ctx.local
        if local is not None and not local.devcontainer and content.repo_url:
            local.workspace_target = f"/workspaces/{repo_name(content.repo_url)}"
        if _has_files(ctx.workspace):
            if not _retry_fresh(ctx):
                return
            await ctx.report("content", "progressing", "retrying: reading the repository again")
            _clear(ctx.workspace)
        _make_workspace(ctx.workspace)
        if not content.repo_url:
            await ctx.report("content", "ready", "empty workspace")
            return
        await ctx.report("content", "progressing", f"cloning {content.repo_url}")
        sha = await self._clone(ctx.env, ctx.workspace)
        _marker(ctx.workspace).write_text(str(ctx.env.spec.spec_version))
        await ctx.report(
            "content", "ready", f"cloned {content.repo_url} at {content.ref or 'default branch'}",
            commit=sha,
        )  # fmt: skip

    async def on_remove(self, env_id: str, workspace: Path) -> None:
        _marker(workspace).unlink(missing_ok=True)

    async def _clone(self, env: Environment, workspace: Path) -> str:
        content = env.spec.content
        url = content.repo_url or ""
        if is_local(url) and not self.allow_local_repos:
            raise PermanentError(
                f"{url} is a path on the runner host; this runner clones only URLs "
                "(https://, ssh://, git@...); its admin may allow paths (allow_local_repos)"
            )
        depth = [] if content.full_history or is_local(url) else ["--depth", "1"]
        local = ["--no-hardlinks"] if is_local(url) else []
        branch = ["--branch", content.ref] if content.ref else []
        with gitcredential.askpass(await self._credential(env)) as login:
            result = await _git(
                ["git", *gitcredential.NO_HELPERS, "clone", "--quiet", *depth, *local, *branch,
                 "--", url, "."], cwd=workspace, extra=login,
            )  # fmt: skip
            if result.code != 0 and content.ref and UNKNOWN_REF.search(result.output):
                result = await self._fetch_commit(url, content.ref, workspace, login)
        if result.code != 0:
            _clear(workspace)
            raise _clone_error(url, content.ref, result.output)
        head = await _git(["git", "rev-parse", "HEAD"], cwd=workspace)
        return head.output.strip()

    async def _credential(self, env: Environment) -> str | None:
        """The value of ``spec.content.credential_secret`` (a secret of this environment)."""
        name = env.spec.content.credential_secret
        if not name:
            return None
        value = await self.credential(env.id, name) if self.credential else None
        if value is None:
            raise PermanentError(
                f"the repository credential {name!r} is not a secret of this environment; "
                f"set it with `roost secret set {name}` (yours, the project's or the "
                "organization's)"
            )
        return value

    async def _fetch_commit(
        self, url: str, ref: str, workspace: Path, login: dict[str, str]
    ) -> sandbox.Result:
        """``--branch`` takes branches and tags; a commit id needs a fetch of that commit."""
        _clear(workspace)
        for argv in (
            ["git", "init", "--quiet"],
            ["git", *gitcredential.NO_HELPERS, "fetch", "--quiet", "--depth", "1", "--", url, ref],
            ["git", "checkout", "--quiet", "FETCH_HEAD"],
        ):
            result = await _git(argv, cwd=workspace, extra=login)
            if result.code != 0:
                return result
        return result


async def _git(
    argv: list[str], *, cwd: Path, extra: dict[str, str] | None = None
) -> sandbox.Result:
    """git in the sandbox, as the workspace owner. A local repository belongs to someone else:
    ``safe.directory`` lets git read it (what it may read is the kernel's call, not git's). It
    is set in a global config file: the ``upload-pack`` of a local clone ignores the
    command-line form."""
    with tempfile.TemporaryDirectory(prefix="roost-gitconfig-") as tmp:
        config = Path(tmp) / "gitconfig"
        config.write_text("[safe]\n\tdirectory = *\n")
        os.chmod(tmp, 0o755)  # noqa: S103 -- the sandbox uid reads it; it holds no secret
        config.chmod(0o644)
        env = {"GIT_CONFIG_GLOBAL": str(config), "GIT_TERMINAL_PROMPT": "0", **(extra or {})}
        return await sandbox.run(argv, cwd=cwd, env=env)


def _marker(workspace: Path) -> Path:
    """Beside the workspace: the spec version the clone was made for."""
    return workspace.with_name(workspace.name + ".cloned-at")


def _retry_fresh(ctx: StepContext) -> bool:
    """Clone again? Only for a retry (a new spec version, as ``roost env start`` makes) of an
    environment that never got as far as an image: its workspace holds nothing but our clone,
    and the fix the user pushed (a devcontainer.json, a Dockerfile) must be seen."""
    local = ctx.local
    if local is not None and (local.layers or local.devcontainer):
        return False
    try:
        cloned_at = _marker(ctx.workspace).read_text().strip()
    except OSError:
        return False  # restored from a backup, or cloned by an older runner: the user's files
    return cloned_at != str(ctx.env.spec.spec_version)


def _has_files(workspace: Path) -> bool:
    return workspace.exists() and any(workspace.iterdir())


def _make_workspace(workspace: Path) -> None:
    # 0700: the runner's workspaces/ is traversable (the sandboxed clone must reach its own),
    # so a workspace must not be readable by other host users who guess an environment id.
    workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chown(workspace, WORKSPACE_ID_BASE, WORKSPACE_ID_BASE)
    workspace.chmod(0o700)


def _clear(workspace: Path) -> None:
    for child in workspace.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _clone_error(url: str, ref: str | None, output: str) -> Exception:
    detail = " ".join(output.strip().splitlines()[-2:]) or "git failed"
    if ref and UNKNOWN_REF.search(output):
        return PermanentError(f"{url} has no branch, tag or commit {ref!r}: {detail}")
    if is_local(url):  # the sandbox reads what any local user may, nothing more
        return PermanentError(
            f"cannot clone {url}: {detail}; the runner reads local repositories as an "
            "unprivileged user: make it readable by all users (chmod -R o+rX, and o+x on its "
            "parent directories) or clone it from a URL"
        )
    if UNREACHABLE.search(output):
        return TemporaryError(f"{url} is unreachable: {detail}", delay=15)
    return PermanentError(f"cannot clone {url}: {detail}; check the URL or the credential")
