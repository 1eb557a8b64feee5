"""Secrets at organization, project and user scope (schemas in ``core/schemas/secrets.py``).

Who may do what:

* **user** secrets belong to one user: only they set, list and delete them, and they reach only
  the environments that user owns (in any organization). Not even platform admins read them.
* **organization** and **project** secrets: members see their names; admins and owners of the
  organization set and delete them. They reach every environment of that organization (or
  project), whoever owns it.
* **values** leave the plane only for the runner an environment is assigned to, for that one
  environment (:func:`for_environment`), and each such read is audited with the names it
  returned. The API never returns a value to a user, and no log line carries one.

Values are sealed before they touch the database (``services/crypto.py``). Every change is
audited; so is every refusal.
"""

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Conflict, Forbidden, NotFound
from roost.core.schemas.secrets import (
    SCOPE_RANK,
    EnvironmentSecret,
    EnvironmentSecrets,
    Scope,
    Secret,
    SecretCreate,
)
from roost.server.services import audit, crypto, environments, organizations, projects
from roost.server.services.context import Context, Principal
from roost.server.store.rows import SecretRow


def to_schema(row: SecretRow) -> Secret:
    return Secret(
        id=row.id, name=row.name, scope=row.scope,
        organization_id=row.organization_id,
        project_id=row.scope_id if row.scope == "project" else None,
        user_id=row.scope_id if row.scope == "user" else None,
        env_var=row.env_var, file_path=row.file_path, created_at=row.created_at,
        updated_at=row.updated_at, updated_by=row.updated_by,
    )  # fmt: skip


async def _owner(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    organization: str | None,
    project: str | None,
    *,
    write: bool,
) -> tuple[str, str | None]:
    """``(scope_id, organization_id)`` of the scope named, if the caller may use it that way."""
    if principal.kind != "user" or principal.user_id is None:
        raise NotFound("secrets are managed by users")
    if scope == "user":
        return principal.user_id, None
    if scope == "organization":
        scope_id = org_id = (await organizations.default_for(session, principal, organization)).id
    else:
        row = await projects.resolve(
            session,
            principal,
            project or "",
            await _project_org(session, principal, organization, project),
        )
        scope_id, org_id = row.id, row.organization_id
    if write and not principal.has_role(org_id, "admin"):
        raise Forbidden(f"{scope} secrets are set and deleted by the organization's admins")
    return scope_id, org_id


async def _project_org(
    session: AsyncSession, principal: Principal, organization: str | None, project: str | None
) -> str | None:
    """Where to look a project up by name: the organization given, else the caller's only one."""
    if organization:
        return (await organizations.resolve(session, principal, organization)).id
    if project and not ids.is_id(project):
        return (await organizations.default_for(session, principal, None)).id
    return None


async def put(ctx: Context, principal: Principal, body: SecretCreate) -> Secret:
    """Create the secret, or replace the value and target of the one with this name."""
    now = ctx.clock.now()
    box = crypto.box(ctx.settings.data_dir)
    try:
        async with ctx.db.write() as session:
            scope_id, org_id = await _owner(
                session, principal, body.scope, body.organization, body.project, write=True
            )
            row = await _find(session, body.scope, scope_id, body.name)
            replaced = row is not None
            if row is None:
                row = SecretRow(
                    id=ids.new_id(), scope=body.scope, scope_id=scope_id, organization_id=org_id,
                    name=body.name, created_at=now,
                )  # fmt: skip
                session.add(row)
            sealed = box.seal(body.value.encode(), row.id)
            row.key_id, row.sealed_key, row.ciphertext = (
                sealed.key_id, sealed.sealed_key, sealed.ciphertext,
            )  # fmt: skip
            row.env_var, row.file_path = body.env_var, body.file_path
            row.updated_at, row.updated_by = now, principal.actor
            details = _details(row, replaced=replaced)
            audit.record(session, now, principal, "secret.set", "secret", row.id,
                         organization_id=org_id, details=details)  # fmt: skip
    except Forbidden as exc:
        await _denied(ctx, principal, "secret.set", body.name, exc)
        raise
    except IntegrityError as exc:  # a concurrent first set of the same name
        raise Conflict(f"secret {body.name!r} was just created; set it again") from exc
    return to_schema(row)


async def list_secrets(
    ctx: Context,
    principal: Principal,
    scope: Scope | None = None,
    organization: str | None = None,
    project: str | None = None,
) -> list[Secret]:
    """The secrets the caller can see (names and targets only), optionally one scope's."""
    async with ctx.db.read() as session:
        if scope is not None:
            scope_id, _ = await _owner(session, principal, scope, organization, project,
                                       write=False)  # fmt: skip
            where = and_(SecretRow.scope == scope, SecretRow.scope_id == scope_id)
        else:
            await _owner(session, principal, "user", None, None, write=False)
            where = or_(
                and_(SecretRow.scope == "user", SecretRow.scope_id == principal.user_id),
                and_(
                    SecretRow.scope != "user",
                    SecretRow.organization_id.in_(list(principal.roles)),
                ),
            )
        rows = await session.scalars(select(SecretRow).where(where).order_by(SecretRow.name))
        return [to_schema(r) for r in rows]


async def delete(
    ctx: Context,
    principal: Principal,
    ref: str,
    scope: Scope = "user",
    organization: str | None = None,
    project: str | None = None,
) -> None:
    """Delete a secret by id, or by name within the scope given."""
    now = ctx.clock.now()
    try:
        async with ctx.db.write() as session:
            scope_id, org_id = await _owner(
                session, principal, scope, organization, project, write=True
            )
            row = await session.get(SecretRow, ref) if ids.is_id(ref) else None
            if row is None or row.scope_id != scope_id:
                row = await _find(session, scope, scope_id, ref)
            if row is None:
                raise NotFound(f"{scope} secret {ref!r} not found; `roost secret list` shows them")
            await session.delete(row)
            audit.record(session, now, principal, "secret.delete", "secret", row.id,
                         organization_id=org_id, details=_details(row))  # fmt: skip
    except Forbidden as exc:
        await _denied(ctx, principal, "secret.delete", ref, exc)
        raise


async def for_environment(ctx: Context, principal: Principal, env_id: str) -> EnvironmentSecrets:
    """For the runner an environment is assigned to: the values it gets, clashes settled.

    Its owner's user secrets, its project's and its organization's; on a clash of name or of
    target (variable or file) the more specific scope wins. Audited with the names returned.
    """
    now = ctx.clock.now()
    if principal.kind != "runner":
        await audit.record_denied(ctx, principal, "secret.read", "environment", env_id,
                                  "only the environment's runner reads secret values")  # fmt: skip
        raise NotFound(f"environment {env_id} not found")
    box = crypto.box(ctx.settings.data_dir)
    async with ctx.db.write() as session:
        env = await environments.load(session, principal, env_id)
        scopes = [("user", env.owner_id), ("organization", env.organization_id)]
        if env.project_id:
            scopes.append(("project", env.project_id))
        query = select(SecretRow).where(
            or_(*(and_(SecretRow.scope == s, SecretRow.scope_id == i) for s, i in scopes))
        )
        rows = sorted(await session.scalars(query), key=lambda r: -SCOPE_RANK[r.scope])
        chosen = _settle(rows)
        items = [_reveal(box, r) for r in chosen]
        audit.record(session, now, principal, "secret.read", "environment", env_id,
                     organization_id=env.organization_id,
                     details={"names": [r.name for r in chosen]})  # fmt: skip
    return EnvironmentSecrets(items=items)


def _settle(rows_most_specific_first: list[SecretRow]) -> list[SecretRow]:
    names: set[str] = set()
    targets: set[str] = set()
    chosen = []
    for row in rows_most_specific_first:
        target = f"env:{row.env_var}" if row.env_var else f"file:{row.file_path}"
        if row.name in names or target in targets:
            continue
        names.add(row.name)
        targets.add(target)
        chosen.append(row)
    return sorted(chosen, key=lambda r: r.name)


async def _find(session: AsyncSession, scope: str, scope_id: str, name: str) -> SecretRow | None:
    found: SecretRow | None = await session.scalar(
        select(SecretRow).where(
            SecretRow.scope == scope, SecretRow.scope_id == scope_id, SecretRow.name == name
        )
    )
    return found


def _details(row: SecretRow, **extra: object) -> dict[str, object]:
    """What the audit keeps: never the value."""
    return {"name": row.name, "scope": row.scope, "env_var": row.env_var,
            "file_path": row.file_path, **extra}  # fmt: skip


def _reveal(box: crypto.SecretBox, row: SecretRow) -> EnvironmentSecret:
    value = box.open(crypto.Sealed(row.key_id, row.sealed_key, row.ciphertext), row.id)
    return EnvironmentSecret(
        name=row.name,
        scope=row.scope,
        value=value.decode(),
        env_var=row.env_var,
        file_path=row.file_path,
    )


async def _denied(
    ctx: Context, principal: Principal, action: str, name: str, exc: Forbidden
) -> None:
    await audit.record_denied(ctx, principal, action, "secret", name, exc.message)
