"""SSH gateway admission: may this key enter this environment? Runners ask, the plane decides.

The rule is the exec rule (``access.py``): only an environment's **owner** gets a shell, so a
key opens the environments of the user who registered it and nothing else -- not those of
their organization, whatever their role there. The environment must also be running on the
asking runner.

The SSH user name is the environment's id, or (for convenience) the name of one of the key
owner's environments. Every refusal says why in words the client shows as a banner, and is
audited; a login is audited once the client has proven it holds the key (``verified``).
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import ApiError, Conflict, InvalidInput, NotFound, Unauthenticated
from roost.core.schemas.environments import EnvironmentSpec
from roost.core.schemas.ssh import SshAuthorize, SshGrant
from roost.server.services import audit, ssh_keys
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, SshKeyRow, UserRow


def check_runner(principal: Principal, runner_id: str) -> None:
    if principal.kind != "runner" or principal.runner_id != runner_id:
        raise NotFound(f"runner {runner_id} not found")


async def authorize(
    ctx: Context, principal: Principal, runner_id: str, body: SshAuthorize
) -> SshGrant:
    check_runner(principal, runner_id)
    now = ctx.clock.now()
    try:
        _, fingerprint = ssh_keys.parse(body.public_key)
    except InvalidInput:
        fingerprint = ""
    async with ctx.db.write() as session:
        keys = await ssh_keys.holders(session, fingerprint) if fingerprint else []
        env = await _find_env(session, body.username, {k.user_id for k in keys})
        key = _key_for(keys, env)
        try:
            grant = await _decide(session, runner_id, body.username, key, env)
        except ApiError as exc:
            _audit(session, now, runner_id, body, fingerprint, key, env, refusal=exc.message)
            refusal: ApiError | None = exc
        else:
            if body.verified:
                _audit(session, now, runner_id, body, fingerprint, key, env)
            refusal = None
    if refusal is not None:
        raise refusal
    return grant


async def _find_env(
    session: AsyncSession, username: str, holders: set[str]
) -> EnvironmentRow | None:
    """The environment named by the SSH user name: an id, or a name of one of the key's
    holders' environments (one key may be registered by several users)."""
    if ids.is_id(username):
        return await session.get(EnvironmentRow, username)
    if not holders:
        return None
    rows = list(
        await session.scalars(
            select(EnvironmentRow).where(
                EnvironmentRow.name == username, EnvironmentRow.owner_id.in_(holders)
            )
        )
    )
    return rows[0] if len(rows) == 1 else None


def _key_for(keys: list[SshKeyRow], env: EnvironmentRow | None) -> SshKeyRow | None:
    """The owner's registration of the key, else any (the refusal then says it is not theirs)."""
    mine = [k for k in keys if env is not None and k.user_id == env.owner_id]
    candidates = mine or keys
    return candidates[0] if candidates else None


async def _decide(
    session: AsyncSession,
    runner_id: str,
    username: str,
    key: SshKeyRow | None,
    env: EnvironmentRow | None,
) -> SshGrant:
    if key is None:
        raise Unauthenticated(
            "this SSH key is not registered with Roost; add it with `roost ssh-key add`"
        )
    if env is None or env.owner_id != key.user_id:
        raise NotFound(
            f"environment {username!r} is not one of yours (only an environment's owner can "
            "connect to it); `roost env list --mine` shows yours"
        )
    if env.desired_phase != "running" or env.phase != "running":
        raise Conflict(
            f"environment {env.name} ({env.id}) is {env.phase}, not running; start it with "
            f"`roost env start {env.id} --wait`",
            code="environment_not_running",
        )
    if env.runner_id != runner_id:
        raise Conflict(
            f"environment {env.id} runs on another runner; connect with `roost env ssh {env.id}` "
            "or refresh your SSH config with `roost config-ssh`",
            code="wrong_runner",
        )
    user = await session.get(UserRow, key.user_id)
    if user is None:
        raise Unauthenticated("this SSH key's user no longer exists")
    return SshGrant(
        environment_id=env.id, environment_name=env.name, user_id=user.id, user_name=user.name,
        fingerprint=key.fingerprint,
        keep_alive_sessions=EnvironmentSpec.model_validate(env.spec).keep_alive_sessions,
    )  # fmt: skip


def _audit(
    session: AsyncSession,
    now: datetime,
    runner_id: str,
    body: SshAuthorize,
    fingerprint: str,
    key: SshKeyRow | None,
    env: EnvironmentRow | None,
    *,
    refusal: str | None = None,
) -> None:
    details: dict[str, object] = {
        "username": body.username, "fingerprint": fingerprint, "client": body.client_address,
        "runner": runner_id,
    }  # fmt: skip
    if refusal is not None:
        details["reason"] = refusal
    audit.record(
        session, now, None, "environment.ssh_login", "environment",
        env.id if env else body.username[:64], organization_id=env.organization_id if env else None,
        outcome="denied" if refusal is not None else "allowed", details=details,
        actor=f"user:{key.user_id}" if key else "anonymous",
    )  # fmt: skip
