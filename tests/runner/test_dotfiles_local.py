"""A dotfiles URL that names the runner host's files is refused unless the runner allows local
repositories (as workspace clones are): nothing is cloned or run for it."""

from pathlib import Path
from typing import Any

from roost.core.schemas.dotfiles import Dotfiles
from roost.runner.devcontainer.logs import LogStore
from roost.runner.dotfiles import DotfilesStep
from roost.runner.state import LocalEnv, StateStore
from roost.runner.steps import StepContext
from tests.runner.test_local_repos_root import env_for


async def test_a_host_path_as_dotfiles_is_refused_by_a_shared_runner(tmp_path: Path) -> None:
    reports: list[tuple[str, str, str]] = []

    async def report(part: str, phase: str, message: str, **_: Any) -> None:
        reports.append((part, phase, message))

    async def fetch(env_id: str) -> Dotfiles:
        return Dotfiles(url="/root/.dotfiles")

    step = DotfilesStep(fetch, LogStore(tmp_path / "logs"), StateStore(tmp_path / "state"))
    env = env_for("https://example.invalid/app.git")
    ctx = StepContext(env=env, driver=None, local=LocalEnv(env_id=env.id),  # type: ignore[arg-type]
                      workspace=tmp_path / "ws", report=report)  # fmt: skip
    await step.install(ctx)  # the driver is None: anything run would fail loudly
    [(part, phase, message)] = reports
    assert (part, phase) == ("dotfiles", "failed") and "path on the runner host" in message
