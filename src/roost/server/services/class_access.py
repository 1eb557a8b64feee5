"""Who may choose which class: an organization's policy can keep a class (``large``) to its
admins (``OrgPolicy.class_roles``); every other class is open to every member. Checked when an
environment is created and when its spec names another class."""

from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Forbidden
from roost.core.schemas.organizations import OrgPolicy
from roost.server.services.context import Principal
from roost.server.store.rows import OrganizationRow


async def check(session: AsyncSession, principal: Principal, org_id: str, class_name: str) -> None:
    org = await session.get(OrganizationRow, org_id)
    if org is None:
        return
    needed = OrgPolicy(**org.policy).class_roles.get(class_name)
    if needed and not principal.has_role(org_id, needed):
        raise Forbidden(
            f"class {class_name!r} is kept to {needed}s of {org.name}; choose another "
            "(`roost class list`) or ask an admin",
            code="class_not_allowed",
        )
