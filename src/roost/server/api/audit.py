from fastapi import APIRouter, Query

from roost.core.schemas.audit import AuditEvent
from roost.core.schemas.base import Page
from roost.server.api.deps import Auth, Ctx
from roost.server.services import audit_log

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("")
async def list_audit_events(
    ctx: Ctx,
    who: Auth,
    organization: str | None = None,
    cursor: str | None = None,
    limit: int = Query(100),
) -> Page[AuditEvent]:
    return await audit_log.list_events(ctx, who, organization, cursor, limit)
