"""Audit trail: every change and every denied attempt, in the same transaction as the change."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.schemas.audit import AuditEvent
from roost.server.services.context import Context, Principal
from roost.server.store.rows import AuditEventRow


def record(
    session: AsyncSession,
    now: datetime,
    principal: Principal | None,
    action: str,
    target_kind: str = "",
    target_id: str = "",
    *,
    organization_id: str | None = None,
    outcome: str = "allowed",
    details: dict[str, object] | None = None,
    actor: str | None = None,
) -> None:
    session.add(
        AuditEventRow(
            id=ids.new_id(),
            at=now,
            organization_id=organization_id,
            actor=actor or (principal.actor if principal else "anonymous"),
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            outcome=outcome,
            details=details or {},
        )
    )


async def record_denied(
    ctx: Context,
    principal: Principal | None,
    action: str,
    target_kind: str,
    target_id: str,
    reason: str,
    *,
    organization_id: str | None = None,
    actor: str | None = None,
) -> None:
    """Record a refusal in its own transaction (the refused change has none)."""
    async with ctx.db.write() as session:
        record(
            session,
            ctx.clock.now(),
            principal,
            action,
            target_kind,
            target_id,
            organization_id=organization_id,
            outcome="denied",
            details={"reason": reason},
            actor=actor,
        )


def to_schema(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        organization_id=row.organization_id,
        actor=row.actor,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        outcome=row.outcome,
        details=row.details,
    )
