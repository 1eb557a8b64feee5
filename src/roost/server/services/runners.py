"""Runners: registration, heartbeats, listing.

A runner registers once with a one-time registration token (made by a platform admin) and gets
its own runner-scoped credential, which it keeps in its data directory. Registering again under
an existing name (a reinstalled host) keeps the runner's id -- and so its environments -- and
revokes the old credential.
"""

import logging
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Forbidden, NotFound, Unauthenticated
from roost.core.schemas.base import Page
from roost.core.schemas.runners import (
    BackupLocationUpdate,
    Capacity,
    Heartbeat,
    Runner,
    RunnerInfo,
    RunnerRegister,
    RunnerRegistered,
)
from roost.core.schemas.tokens import RegistrationTokenCreate, TokenCreated
from roost.server.services import audit, events, pagination, tokens
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, RunnerRow

log = logging.getLogger(__name__)


def to_schema(row: RunnerRow, allocated: Capacity | None = None) -> Runner:
    info = RunnerInfo(**row.info)
    return Runner(
        id=row.id,
        name=row.name,
        region=row.region,
        labels=info.labels,
        capacity=info.capacity,
        allocated=allocated or Capacity(),
        runtimes=list(info.runtimes),
        version=info.version,
        access_url=info.access_url,
        ssh_address=info.ssh_address,
        ssh_host_key=info.ssh_host_key,
        proxy_domain=info.proxy_domain,
        images=info.images,
        backup_location=info.backup_location,
        state=row.state,
        draining=bool(row.draining),
        last_heartbeat=row.last_heartbeat,
        created_at=row.created_at,
    )


async def allocations(session: AsyncSession) -> dict[str, Capacity]:
    """What the environments assigned to each runner ask for.

    CPU and memory count only for environments meant to run and not failed (a failed start
    releases them; ``roost env start`` retries it); disk and the environment count also for
    stopped and failed ones, whose files stay on the runner.
    """
    running = (EnvironmentRow.desired_phase == "running") & (EnvironmentRow.phase != "failed")
    rows = await session.execute(
        select(
            EnvironmentRow.runner_id,
            func.count(),
            func.sum(EnvironmentRow.disk_gib),
            func.sum(case((running, EnvironmentRow.cpu), else_=0.0)),
            func.sum(case((running, EnvironmentRow.memory_mib), else_=0)),
        )
        .where(EnvironmentRow.runner_id.is_not(None), EnvironmentRow.desired_phase != "deleted")
        .group_by(EnvironmentRow.runner_id)
    )
    return {
        str(runner_id): Capacity(
            environments=int(count), disk_gib=int(disk or 0), cpu=float(cpu or 0),
            memory_mib=int(memory or 0),
        )
        for runner_id, count, disk, cpu, memory in rows
    }  # fmt: skip


async def create_registration_token(
    ctx: Context, principal: Principal, body: RegistrationTokenCreate
) -> TokenCreated:
    if not principal.is_admin:
        raise Forbidden("only platform admins can add runners")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row, plain = await tokens.issue(
            session,
            now,
            scope="registration",
            name=body.name,
            expires_in=body.expires_in_seconds,
            created_by=principal.user_id,
        )
        audit.record(session, now, principal, "runner.registration_token", "token", row.id)
    return TokenCreated(token=tokens.to_schema(row), secret=plain)


async def register(ctx: Context, body: RunnerRegister) -> RunnerRegistered:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        token = await tokens.verify(session, body.registration_token, now)
        if token.scope != "registration":
            raise Unauthenticated(
                "runners register with a registration token (`roost runner token`)"
            )
        token.revoked_at = now  # one use only
        row = await session.scalar(select(RunnerRow).where(RunnerRow.name == body.name))
        if row is None:
            row = RunnerRow(id=ids.new_id(), name=body.name, created_at=now)
            session.add(row)
        else:
            await tokens.revoke_for_runner(session, row.id, now)
            ctx.auth_cache.forget()
        _apply_info(row, body.info, now)
        await session.flush()
        await emit(session, row, now, "ADDED")
        _, credential = await tokens.issue(
            session, now, scope="runner", name=f"runner {body.name}", runner_id=row.id
        )
        audit.record(
            session,
            now,
            None,
            "runner.register",
            "runner",
            row.id,
            actor=f"registration:{token.id}",
        )
        return RunnerRegistered(runner=to_schema(row), token=credential)


async def heartbeat(ctx: Context, principal: Principal, runner_id: str, body: Heartbeat) -> Runner:
    if principal.kind != "runner" or principal.runner_id != runner_id:
        raise NotFound(f"runner {runner_id} not found")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await session.get(RunnerRow, runner_id)
        if row is None:
            raise NotFound(f"runner {runner_id} not found; register again")
        was_offline = row.state != "online"
        # The backup location is the admins' (registration, or set_backup_location): a runner
        # that names another's location would be handed its backups and their passwords.
        kept = RunnerInfo(**row.info).backup_location
        if was_offline and body.info.backup_location != kept:  # once, not every heartbeat
            log.warning("runner %s says its backups are at %s; its admin set %s (kept)",
                        row.name, body.info.backup_location, kept)  # fmt: skip
        _apply_info(row, body.info.model_copy(update={"backup_location": kept}), now)
        if was_offline:
            await emit(session, row, now, "MODIFIED")
            audit.record(session, now, principal, "runner.online", "runner", row.id)
        return to_schema(row)


async def set_backup_location(
    ctx: Context, principal: Principal, ref: str, body: BackupLocationUpdate
) -> Runner:
    """Platform admins only: where the runner's backups are (it must hold them there too)."""
    if not principal.is_admin:
        raise Forbidden("only platform admins can set a runner's backup location")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await find(session, ref)
        row.info = {**row.info, "backup_location": body.backup_location}
        await emit(session, row, now, "MODIFIED")
        audit.record(session, now, principal, "runner.backup_location", "runner", row.id,
                     details={"backup_location": body.backup_location})  # fmt: skip
        return to_schema(row)


def _apply_info(row: RunnerRow, info: RunnerInfo, now: datetime) -> None:
    row.info = info.model_dump(mode="json")
    row.region = info.region
    row.state = "online"
    row.last_heartbeat = now


async def emit(session: AsyncSession, row: RunnerRow, now: datetime, type_: str) -> None:
    row.resource_version = await events.record(
        session, now, kind="runner", type_=type_, object_id=row.id
    )


async def list_runners(
    ctx: Context, principal: Principal, cursor: str | None, limit: int
) -> Page[Runner]:
    """Every user may see runners (to pick one with --runner); details are not secret."""
    async with ctx.db.read() as session:
        version = await events.current_version(session)
        query = select(RunnerRow)
        if principal.kind == "runner":
            query = query.where(RunnerRow.id == principal.runner_id)
        rows, next_cursor = await pagination.page(session, query, RunnerRow.id, cursor, limit)
        alloc = await allocations(session)
    return Page[Runner](
        items=[to_schema(r, alloc.get(r.id)) for r in rows],
        next_cursor=next_cursor,
        resource_version=version,
    )


async def get(ctx: Context, principal: Principal, ref: str) -> Runner:
    async with ctx.db.read() as session:
        row = await find(session, ref)
        if principal.kind == "runner" and principal.runner_id != row.id:
            raise NotFound(f"runner {ref!r} not found")
        alloc = await allocations(session)
        return to_schema(row, alloc.get(row.id))


async def find(session: AsyncSession, ref: str) -> RunnerRow:
    row = await session.get(RunnerRow, ref) if ids.is_id(ref) else None
    if row is None:
        row = await session.scalar(select(RunnerRow).where(RunnerRow.name == ref))
    if row is None:
        raise NotFound(f"runner {ref!r} not found; `roost runner list` shows them")
    return row


async def delete(ctx: Context, principal: Principal, ref: str) -> None:
    """Forget a runner. Its environments are kept and show ``unknown`` until moved or deleted."""
    if not principal.is_admin:
        raise Forbidden("only platform admins can remove runners")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await find(session, ref)
        await tokens.revoke_for_runner(session, row.id, now)
        ctx.auth_cache.forget()
        await emit(session, row, now, "DELETED")
        await session.delete(row)
        audit.record(session, now, principal, "runner.delete", "runner", row.id)


async def count_online(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(RunnerRow.state == "online")) or 0)
