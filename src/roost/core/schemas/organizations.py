"""Organizations, users, memberships."""

import ipaddress
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from roost.core.schemas.base import Input, Output
from roost.core.schemas.quotas import Quotas

Role = Literal["owner", "admin", "member"]
Admission = Literal["owner", "organization", "public"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class OrgPolicy(Input):
    """Organization-wide limits. ``None`` means no limit."""

    max_port_admission: Admission = "public"
    max_idle_timeout_seconds: int | None = Field(default=None, ge=60, le=366 * 86400)
    restore_lost_after_seconds: int | None = Field(default=None, ge=60, le=366 * 86400)
    """When a runner has been silent this long, its environments of this organization go back
    to their last backups, and those meant to run are restored and started on another runner
    (what they did since that backup is lost). ``None`` (the default): they wait for the runner,
    or for an admin's ``roost runner lost``."""
    class_roles: dict[str, Role] = Field(default_factory=dict)
    """Classes only some members may choose: class name -> the least role (``admin``: admins
    and owners). Classes not named here are open to every member."""
    egress_allow: list[str] | None = None
    """IPv4 addresses or networks (CIDR) environments may connect to; ``None`` allows all
    egress, ``[]`` none (the environments' nameservers stay reachable). The host, other
    environments and 169.254.169.254 stay blocked whatever the list says. A change applies to
    running environments at once."""
    nested_containers: bool = True
    """``False``: no environment of the organization runs nested containers, whatever its class
    allows (checked at create and at every spec change)."""

    quotas: Quotas = Field(default_factory=Quotas)
    """Set by platform admins only (``PUT /organizations/{org}/quotas``); a policy update by
    anyone else keeps them."""

    @field_validator("egress_allow")
    @classmethod
    def _cidrs(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        try:
            networks = [ipaddress.IPv4Network(item.strip(), strict=False) for item in value]
        except ValueError as exc:
            raise ValueError(f"egress_allow takes IPv4 addresses or networks: {exc}") from exc
        return [str(n) for n in ipaddress.collapse_addresses(networks)]


class OrganizationCreate(Input):
    name: str = Field(pattern=NAME_PATTERN)


class OrganizationUpdate(Input):
    policy: OrgPolicy


class Organization(Output):
    id: str
    name: str
    policy: OrgPolicy = Field(default_factory=OrgPolicy)
    created_at: datetime


class UserCreate(Input):
    name: str = Field(pattern=NAME_PATTERN)
    email: str | None = None
    is_admin: bool = False


class User(Output):
    id: str
    name: str
    email: str | None = None
    is_admin: bool = False
    created_at: datetime
    dotfiles_url: str | None = None


class MembershipCreate(Input):
    user: str
    """User id or name."""
    role: Role = "member"


class Membership(Output):
    organization_id: str
    user_id: str
    user_name: str
    role: Role
    created_at: datetime


class WhoAmI(Output):
    kind: Literal["user", "runner", "environment"]
    user: User | None = None
    runner_id: str | None = None
    environment_id: str | None = None
    memberships: list[Membership] = Field(default_factory=list)
