from fastapi import APIRouter, status

from roost.core.schemas.secrets import EnvironmentSecrets, Scope, Secret, SecretCreate
from roost.server.api.deps import Auth, Ctx
from roost.server.services import secrets

router = APIRouter(prefix="/api/v1", tags=["secrets"])


@router.post("/secrets")
async def set_secret(ctx: Ctx, who: Auth, body: SecretCreate) -> Secret:
    """Create a secret, or replace the value and target of the one with this name in this scope.
    The answer (like every answer) leaves the value out."""
    return await secrets.put(ctx, who, body)


@router.get("/secrets")
async def list_secrets(
    ctx: Ctx,
    who: Auth,
    scope: Scope | None = None,
    organization: str | None = None,
    project: str | None = None,
) -> list[Secret]:
    """Secrets you can see: yours, and your organizations' and projects' (names only)."""
    return await secrets.list_secrets(ctx, who, scope, organization, project)


@router.delete("/secrets/{ref}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_secret(
    ctx: Ctx,
    who: Auth,
    ref: str,
    scope: Scope = "user",
    organization: str | None = None,
    project: str | None = None,
) -> None:
    """Delete a secret by id, or by name in the scope given."""
    await secrets.delete(ctx, who, ref, scope, organization, project)


@router.get("/environments/{env_id}/secrets/values")
async def environment_secrets(ctx: Ctx, who: Auth, env_id: str) -> EnvironmentSecrets:
    """For the environment's runner only: the values to inject (audited)."""
    return await secrets.for_environment(ctx, who, env_id)
