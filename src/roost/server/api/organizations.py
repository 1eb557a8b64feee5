from fastapi import APIRouter, status

from roost.core.schemas.organizations import (
    Membership,
    MembershipCreate,
    Organization,
    OrganizationCreate,
    OrganizationUpdate,
)
from roost.server.api.deps import Auth, Ctx
from roost.server.services import org_policies, organizations, removal

router = APIRouter(prefix="/api/v1/organizations", tags=["organizations"])


@router.get("")
async def list_organizations(ctx: Ctx, who: Auth) -> list[Organization]:
    return await organizations.list_orgs(ctx, who)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_organization(ctx: Ctx, who: Auth, body: OrganizationCreate) -> Organization:
    return await organizations.create(ctx, who, body)


@router.get("/{org}")
async def get_organization(ctx: Ctx, who: Auth, org: str) -> Organization:
    return await organizations.get(ctx, who, org)


@router.patch("/{org}")
async def update_organization(
    ctx: Ctx, who: Auth, org: str, body: OrganizationUpdate
) -> Organization:
    return await org_policies.update_policy(ctx, who, org, body)


@router.get("/{org}/members")
async def list_members(ctx: Ctx, who: Auth, org: str) -> list[Membership]:
    return await organizations.list_members(ctx, who, org)


@router.post("/{org}/members", status_code=status.HTTP_201_CREATED)
async def add_member(ctx: Ctx, who: Auth, org: str, body: MembershipCreate) -> Membership:
    return await organizations.add_member(ctx, who, org, body)


@router.delete("/{org}/members/{user}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(ctx: Ctx, who: Auth, org: str, user: str) -> None:
    await organizations.remove_member(ctx, who, org, user)


@router.delete("/{org}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_organization(ctx: Ctx, who: Auth, org: str) -> None:
    await removal.delete_organization(ctx, who, org)
