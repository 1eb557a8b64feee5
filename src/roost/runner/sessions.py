"""Session defaults: what a user's exec or SSH session gets when it does not say otherwise.

A devcontainer names the user people work as (``remoteUser``), where they start
(``workspaceFolder``) and the variables tools expect (``remoteEnv``). The access paths (exec
streams, the SSH gateway) talk to a :class:`SessionDriver`, which fills those in from the
environment's local state for requests that leave them open (``ExecRequest.user is None``).
Internal callers (hooks, setup) always name their user and use the plain driver.
"""

from dataclasses import replace

from roost.runner.runtime.base import ExecProcess, ExecRequest, RuntimeDriver, WrappedDriver
from roost.runner.state import StateStore


class SessionDriver(WrappedDriver):
    """A driver whose ``exec`` applies the environment's session defaults."""

    def __init__(self, inner: RuntimeDriver, state: StateStore) -> None:
        super().__init__(inner)
        self.state = state

    def defaults(self, env_id: str, request: ExecRequest) -> ExecRequest:
        local = self.state.load(env_id)
        if local is None:
            return replace(request, user=request.user or "0:0")
        user = request.user or local.remote
        cwd = request.cwd or local.workdir or local.workspace_target or None
        env = {**local.remote_variables, **request.env}
        return replace(request, user=user, cwd=cwd, env=env)

    def session_user(self, env_id: str) -> tuple[int, int]:
        """uid and gid inside that sessions run as (root without a remote user)."""
        local = self.state.load(env_id)
        return (local.remote_uid, local.remote_gid) if local is not None else (0, 0)

    async def exec(self, env_id: str, request: ExecRequest) -> ExecProcess:
        return await self.inner.exec(env_id, self.defaults(env_id, request))
