"""Environments: create, read, change the spec, start / stop / delete.

Users write the spec; the plane bumps ``spec_version`` on every change and refuses a write based
on an older version (409 ``spec_version_conflict``), so two clients cannot silently overwrite each
other. Who sees what: the owner; the organization's admins and owners; platform admins; the
runner the environment is assigned to. Everyone else gets 404.
"""

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from roost.core.schemas.base import Page
from roost.core.schemas.environments import (
    DesiredPhase,
    Environment,
    EnvironmentCreate,
    EnvironmentSpec,
    EnvironmentStatus,
    Metadata,
)
from roost.core.schemas.organizations import OrgPolicy
from roost.core.schemas.projects import Resources
from roost.server.services import (
    audit,
    class_access,
    classes,
    events,
    organizations,
    pagination,
    ports,
    projects,
    quotas,
    scheduling,
)
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, OrganizationRow, ProjectRow, UserRow


def to_schema(row: EnvironmentRow) -> Environment:
    status = EnvironmentStatus(**row.status)
    status.status_version = row.status_version
    status.phase = row.phase  # type: ignore[assignment]
    status.runner_id = row.runner_id
    return Environment(
        metadata=Metadata(
            id=row.id,
            name=row.name,
            organization_id=row.organization_id,
            project_id=row.project_id,
            owner_id=row.owner_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            resource_version=row.resource_version,
        ),
        spec=EnvironmentSpec.model_validate({**row.spec, "spec_version": row.spec_version}),
        status=status,
    )


def can_see(principal: Principal, row: EnvironmentRow) -> bool:
    if principal.kind == "runner":
        return row.runner_id is not None and row.runner_id == principal.runner_id
    if principal.kind == "environment":
        return principal.environment_id == row.id
    return (
        principal.is_admin
        or row.owner_id == principal.user_id
        or principal.has_role(row.organization_id, "admin")
    )


async def load(
    session: AsyncSession, principal: Principal, env_id: str, *, for_update: bool = False
) -> EnvironmentRow:
    """The environment if ``principal`` may see it, else 404. ``for_update`` locks the row
    (PostgreSQL) so read-modify-write of the JSON columns cannot lose a concurrent change."""
    query = select(EnvironmentRow).where(EnvironmentRow.id == env_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None or not can_see(principal, row):
        raise NotFound(f"environment {env_id} not found; `roost env list` shows yours")
    return row


async def emit(
    session: AsyncSession,
    row: EnvironmentRow,
    now: datetime,
    type_: str,
    prev_runner_id: str | None = None,
) -> None:
    row.updated_at = now
    row.resource_version = await events.record(
        session,
        now,
        kind="environment",
        type_=type_,
        object_id=row.id,
        organization_id=row.organization_id,
        owner_id=row.owner_id,
        runner_id=row.runner_id,
        prev_runner_id=prev_runner_id,
    )


async def create(
    ctx: Context,
    principal: Principal,
    body: EnvironmentCreate,
    on_created: Callable[[AsyncSession, EnvironmentRow], Awaitable[None]] | None = None,
) -> Environment:
    """``on_created`` runs in the creating transaction (``idempotency.py`` records its key)."""
    if principal.kind != "user":
        raise NotFound("only users create environments")
    await ports.enforce(ctx, principal, body.spec, body.organization)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        org = await organizations.default_for(session, principal, body.organization)
        project = (
            await projects.resolve(session, principal, body.project, org.id)
            if body.project
            else None
        )
        spec = _apply_project_defaults(body.spec, project)
        await class_access.check(session, principal, org.id, spec.class_name)
        spec = await _with_class(session, org.id, spec)
        spec = await _with_policy(session, org.id, spec)
        await quotas.check(session, principal, None, org_id=org.id, resources=spec.resources,
                           running=spec.desired_phase == "running")  # fmt: skip
        name = body.name or await _free_name(session, org.id, _name_hint(spec, project))
        if await _name_taken(session, org.id, name):
            raise Conflict(
                f"an environment named {name!r} exists in {org.name}", code="already_exists"
            )
        row = EnvironmentRow(
            id=ids.new_id(),
            organization_id=org.id,
            project_id=project.id if project else None,
            owner_id=principal.user_id,
            name=name,
            spec_version=1,
            status=EnvironmentStatus(message="waiting for a runner").model_dump(mode="json"),
            phase="pending",
            created_at=now,
            updated_at=now,
        )
        _copy_spec(row, spec)
        session.add(row)
        await session.flush()
        if on_created is not None:
            await on_created(session, row)
        if spec.desired_phase == "running":
            await scheduling.try_place(session, row, now, ctx.settings)
        await emit(session, row, now, "ADDED")
        audit.record(
            session,
            now,
            principal,
            "environment.create",
            "environment",
            row.id,
            organization_id=org.id,
        )
        ports.audit_changes(session, now, principal, row, [], spec.ports)
        return to_schema(row)


async def list_envs(
    ctx: Context,
    principal: Principal,
    org_ref: str | None,
    cursor: str | None,
    limit: int,
    mine: bool = False,
) -> Page[Environment]:
    async with ctx.db.read() as session:
        version = await events.current_version(session)
        query = select(EnvironmentRow)
        if principal.kind == "runner":
            query = query.where(EnvironmentRow.runner_id == principal.runner_id)
        elif org_ref:
            org = await organizations.resolve(session, principal, org_ref)
            query = query.where(EnvironmentRow.organization_id == org.id)
            if mine or not principal.has_role(org.id, "admin"):
                query = query.where(EnvironmentRow.owner_id == principal.user_id)
        elif mine or not principal.is_admin:
            managed = [o for o in principal.roles if principal.has_role(o, "admin")]
            query = query.where(
                (EnvironmentRow.owner_id == principal.user_id)
                | (EnvironmentRow.organization_id.in_([] if mine else managed))
            )
        rows, next_cursor = await pagination.page(session, query, EnvironmentRow.id, cursor, limit)
        owners = await _owner_names(session, {r.owner_id for r in rows})
    items = [to_schema(r) for r in rows]
    for item in items:
        item.metadata.owner_name = owners.get(item.metadata.owner_id)
    return Page[Environment](items=items, next_cursor=next_cursor, resource_version=version)


async def _owner_names(session: AsyncSession, owner_ids: set[str]) -> dict[str, str]:
    """User names of ``owner_ids``, in one query."""
    if not owner_ids:
        return {}
    found = await session.execute(select(UserRow.id, UserRow.name).where(UserRow.id.in_(owner_ids)))
    return {user_id: name for user_id, name in found}


async def get(ctx: Context, principal: Principal, env_id: str) -> Environment:
    async with ctx.db.read() as session:
        return to_schema(await load(session, principal, env_id))


async def update_spec(
    ctx: Context, principal: Principal, env_id: str, spec: EnvironmentSpec
) -> Environment:
    """Replace the spec; ``spec.spec_version`` must be the version the caller read."""
    await ports.enforce(ctx, principal, spec, None, (env_id, can_see))
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await load(session, principal, env_id, for_update=True)
        _check_user(principal)
        if row.owner_id != principal.user_id:  # docs/security.md: who may do what
            raise Forbidden(
                "only the environment's owner changes its spec; admins may stop or delete it"
            )
        if spec.spec_version != row.spec_version:
            raise Conflict(
                f"environment {env_id} changed since you read it (your spec_version "
                f"{spec.spec_version}, current {row.spec_version}); read it again and retry",
                code="spec_version_conflict",
            )
        _check_transition(row, spec.desired_phase)
        if spec.class_name != EnvironmentSpec.model_validate(row.spec).class_name:
            await class_access.check(session, principal, row.organization_id, spec.class_name)
        spec = await _with_class(session, row.organization_id, spec)
        spec = await _with_policy(session, row.organization_id, spec)
        running = spec.desired_phase == "running"
        await quotas.check(session, principal, row, org_id=row.organization_id,
                           resources=spec.resources, running=running)  # fmt: skip
        old_ports = EnvironmentSpec.model_validate(row.spec).ports
        _set_spec(row, spec)
        await emit(session, row, now, "MODIFIED")
        ports.audit_changes(session, now, principal, row, old_ports, spec.ports)
        audit.record(
            session,
            now,
            principal,
            "environment.update",
            "environment",
            row.id,
            organization_id=row.organization_id,
        )
        return to_schema(row)


async def set_desired_phase(
    ctx: Context, principal: Principal, env_id: str, phase: DesiredPhase
) -> Environment:
    """start / stop / delete: idempotent, no version precondition needed."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await load(session, principal, env_id, for_update=True)
        _check_user(principal)
        if row.desired_phase == phase and not _failed(row):
            return to_schema(row)  # idempotent; but asking again after a failure means "retry"
        _check_transition(row, phase)
        spec = EnvironmentSpec.model_validate(row.spec)
        if phase == "running":
            await quotas.check(session, principal, row, org_id=row.organization_id,
                               resources=spec.resources, running=True)  # fmt: skip
        spec.desired_phase = phase
        _set_spec(row, spec)
        await emit(session, row, now, "MODIFIED")
        action = {"running": "start", "stopped": "stop", "deleted": "delete"}[phase]
        audit.record(
            session,
            now,
            principal,
            f"environment.{action}",
            "environment",
            row.id,
            organization_id=row.organization_id,
        )
        return to_schema(row)


def _failed(row: EnvironmentRow) -> bool:
    """Failed, or running with a failed part (a lifecycle hook): a new start retries it."""
    conditions = (row.status or {}).get("conditions") or {}
    return row.phase == "failed" or any(
        isinstance(c, dict) and c.get("phase") == "failed" for c in conditions.values()
    )


def _check_user(principal: Principal) -> None:
    if principal.kind == "runner":
        raise NotFound("runners do not change specs")


def _check_transition(row: EnvironmentRow, desired: str) -> None:
    if row.desired_phase == "deleted" and desired != "deleted":
        raise Conflict(
            f"environment {row.id} is being deleted; create a new one instead",
            code="environment_deleting",
        )


def replace_spec(row: EnvironmentRow, spec: EnvironmentSpec) -> None:
    """Store ``spec`` with a new ``spec_version`` (the caller emits the event and audits)."""
    _set_spec(row, spec)


def _set_spec(row: EnvironmentRow, spec: EnvironmentSpec) -> None:
    row.spec_version += 1
    _copy_spec(row, spec)


def _copy_spec(row: EnvironmentRow, spec: EnvironmentSpec) -> None:
    """The spec document and the columns queries filter and sum on."""
    row.spec = _spec_doc(spec)
    row.desired_phase = spec.desired_phase
    row.cpu = spec.resources.cpu
    row.memory_mib = spec.resources.memory_mib
    row.disk_gib = spec.resources.disk_gib


def _spec_doc(spec: EnvironmentSpec) -> dict[str, Any]:
    doc = spec.model_dump(mode="json", by_alias=True)
    doc.pop("spec_version", None)
    return doc


def _apply_project_defaults(spec: EnvironmentSpec, project: ProjectRow | None) -> EnvironmentSpec:
    if project is None:
        return spec
    settings = project.settings
    spec = spec.model_copy(deep=True)
    if spec.content.repo_url is None and project.repo_url:
        spec.content.repo_url = project.repo_url
    if "class_name" not in spec.model_fields_set:
        spec.class_name = settings.get("default_class") or spec.class_name
    spec.devcontainer_path = spec.devcontainer_path or settings.get("devcontainer_path")
    spec.image = spec.image or settings.get("default_image")
    return spec


async def _with_class(session: AsyncSession, org_id: str, spec: EnvironmentSpec) -> EnvironmentSpec:
    """Resources always come from the class: users pick a class, admins define what it means."""
    row = await classes.resolve(session, org_id, spec.class_name)
    spec = spec.model_copy(deep=True)
    spec.resources = Resources(**row.resources)
    if spec.nested_containers and not spec.resources.nested_containers:
        raise InvalidInput(
            f"class {spec.class_name!r} does not allow nested containers (its policy "
            "nested_containers is off); choose a class created with --nested-containers",
            code="nested_containers_refused",
        )
    return spec


async def _with_policy(
    session: AsyncSession, org_id: str, spec: EnvironmentSpec
) -> EnvironmentSpec:
    """The organization's egress allow-list, stamped into the spec like the class's resources
    (a runner applies what the spec says; ``org_policies`` re-stamps when the policy changes)."""
    org = await session.get(OrganizationRow, org_id)
    policy = OrgPolicy(**org.policy) if org is not None else OrgPolicy()
    if not policy.nested_containers and spec.resources.nested_containers:
        spec = _without_nested(spec)
    allow = policy.egress_allow
    if spec.egress_allow == allow:
        return spec
    return spec.model_copy(update={"egress_allow": allow})


def _without_nested(spec: EnvironmentSpec) -> EnvironmentSpec:
    """The organization forbids nested containers: refuse an environment that asks, and take
    the class's permission out of the spec (the runner then refuses a devcontainer's request)."""
    if spec.nested_containers:
        raise InvalidInput(
            "the organization's policy forbids nested containers (nested_containers is off); "
            "ask an organization admin, or create the environment without them",
            code="nested_containers_refused",
        )
    resources = spec.resources.model_copy(update={"nested_containers": False})
    return spec.model_copy(update={"resources": resources})


def _name_hint(spec: EnvironmentSpec, project: ProjectRow | None) -> str:
    if project is not None:
        return project.name
    url = (spec.content.repo_url or "").rstrip("/")
    base = url.rsplit("/", 1)[-1].removesuffix(".git").lower()
    clean = "".join(c if c.isalnum() else "-" for c in base).strip("-")[:40]
    return clean or "env"


async def _name_taken(session: AsyncSession, org_id: str, name: str) -> bool:
    found = await session.scalar(
        select(EnvironmentRow.id).where(
            EnvironmentRow.organization_id == org_id, EnvironmentRow.name == name
        )
    )
    return found is not None


async def _free_name(session: AsyncSession, org_id: str, hint: str) -> str:
    """The hint itself (the repository's or project's name), or with a suffix if it is taken."""
    if not await _name_taken(session, org_id, hint):
        return hint
    for _ in range(20):
        name = f"{hint}-{secrets.token_hex(2)}"
        if not await _name_taken(session, org_id, name):
            return name
    raise InvalidInput("could not pick a free name; pass --name")
