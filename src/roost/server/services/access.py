"""Exec tickets (see :mod:`roost.core.schemas.access`).

Only an environment's **owner** gets in (exec now; SSH and the owner admission of ports use the
same rule): organization admins can stop or delete an environment, but its shell, files and
secrets are its owner's.
"""

import contextlib
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Conflict, Forbidden, NotFound, Unauthenticated
from roost.core.schemas.access import ExecTicket, TicketGrant, TicketPurpose, TicketVerify
from roost.core.schemas.runners import RunnerInfo
from roost.server.services import audit, environments, tokens
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, RunnerRow, UserRow


async def exec_ticket(
    ctx: Context, principal: Principal, env_id: str, purpose: TicketPurpose = "exec"
) -> ExecTicket:
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        found = await environments.load(session, principal, env_id)
        owner, org_id = found.owner_id, found.organization_id
    if principal.kind == "runner" or owner != principal.user_id:
        # In a transaction of its own: the refusal must be on record though nothing is written
        await audit.record_denied(ctx, principal, f"environment.{purpose}", "environment", env_id,
                                  "not the owner", organization_id=org_id)  # fmt: skip
        raise Forbidden("only the environment's owner can run commands in it")
    async with ctx.db.write() as session:
        env = await environments.load(session, principal, env_id)
        # Logs are readable at any time the environment has a runner: building, failed, stopped
        if env.runner_id is None or (purpose != "logs" and env.phase != "running"):
            raise Conflict(
                f"environment {env_id} is {env.phase}, not running; start it with "
                f"`roost env start {env_id} --wait`",
                code="environment_not_running",
            )
        runner = await session.get(RunnerRow, env.runner_id)
        access = RunnerInfo(**runner.info).access_url if runner else None
        if not access:
            raise Conflict("the environment's runner does not accept connections (no access URL)")
        seconds = ctx.settings.exec_ticket_seconds
        _, ticket = await tokens.issue(
            session, now, scope="environment", name=f"{purpose} ticket", user_id=principal.user_id,
            environment_id=env.id, expires_in=seconds,
        )  # fmt: skip
        audit.record(session, now, principal, f"environment.{purpose}_ticket", "environment",
                     env.id, organization_id=env.organization_id)  # fmt: skip
    if purpose == "exec":
        access = access.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return ExecTicket(
        url=f"{access}/{purpose}/{env_id}", ticket=ticket,
        expires_at=now + timedelta(seconds=seconds),
    )  # fmt: skip


async def verify_ticket(
    ctx: Context, principal: Principal, runner_id: str, body: TicketVerify
) -> TicketGrant:
    """For runners: is this ticket good for this environment on this runner? Spends it.

    The outcome -- allowed or denied, and why -- is audited and committed before any refusal is
    raised, so a denied attempt leaves its trace.
    """
    if principal.kind != "runner" or principal.runner_id != runner_id:
        raise NotFound(f"runner {runner_id} not found")
    now = ctx.clock.now()
    action = f"environment.{body.purpose}"
    async with ctx.db.write() as session:
        grant, reason = await _check_ticket(session, now, runner_id, body)
        env = await session.get(EnvironmentRow, body.environment_id)
        audit.record(
            session, now, principal, action, "environment", body.environment_id,
            organization_id=env.organization_id if env else None,
            outcome="allowed" if grant else "denied",
            details={"user": grant.user_name} if grant else {"reason": reason},
        )  # fmt: skip
    with contextlib.suppress(Unauthenticated):
        ctx.auth_cache.forget(tokens.split_token(body.ticket)[0])  # spent
    if grant is None:
        raise Unauthenticated(reason)
    return grant


async def _check_ticket(
    session: AsyncSession, now: datetime, runner_id: str, body: TicketVerify
) -> tuple[TicketGrant | None, str]:
    try:
        row = await tokens.verify(session, body.ticket, now)
    except Unauthenticated as exc:
        return None, exc.message
    row.revoked_at = now  # one use, whatever happens next
    env = await session.get(EnvironmentRow, body.environment_id)
    valid = (
        row.scope == "environment" and row.environment_id == body.environment_id
        and row.name == f"{body.purpose} ticket"
        and env is not None and env.runner_id == runner_id and env.owner_id == row.user_id
    )  # fmt: skip
    if not valid:
        return None, "this ticket is not for this environment on this runner"
    user = await session.get(UserRow, row.user_id) if row.user_id else None
    if user is None:
        return None, "the ticket's user no longer exists"
    return TicketGrant(user_id=user.id, user_name=user.name, environment_id=body.environment_id), ""
