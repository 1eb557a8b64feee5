"""Reading the audit trail: org admins read their organization's, platform admins everything."""

from sqlalchemy import select

from roost.core.errors import Forbidden
from roost.core.schemas.audit import AuditEvent
from roost.core.schemas.base import Page
from roost.server.services import organizations, pagination
from roost.server.services.audit import to_schema
from roost.server.services.context import Context, Principal
from roost.server.store.rows import AuditEventRow


async def list_events(
    ctx: Context, principal: Principal, org_ref: str | None, cursor: str | None, limit: int
) -> Page[AuditEvent]:
    query = select(AuditEventRow)
    async with ctx.db.read() as session:
        if org_ref is not None:
            org = await organizations.resolve(session, principal, org_ref)
            if not principal.has_role(org.id, "admin"):
                raise Forbidden("reading the audit trail needs the admin or owner role")
            query = query.where(AuditEventRow.organization_id == org.id)
        elif not principal.is_admin:
            raise Forbidden("name an organization (--org); the whole trail is for platform admins")
        rows, next_cursor = await pagination.page(session, query, AuditEventRow.id, cursor, limit)
    return Page[AuditEvent](items=[to_schema(r) for r in rows], next_cursor=next_cursor)
