from typing import Annotated

from fastapi import APIRouter, Header, Query, status

from roost.core.schemas.base import Page
from roost.core.schemas.environments import (
    Environment,
    EnvironmentCreate,
    EnvironmentMove,
    SpecUpdate,
    StatusReport,
)
from roost.server.api.deps import Auth, Ctx
from roost.server.services import environment_status, environments, idempotency, moves

router = APIRouter(prefix="/api/v1/environments", tags=["environments"])


@router.get("")
async def list_environments(
    ctx: Ctx,
    who: Auth,
    organization: str | None = None,
    cursor: str | None = None,
    limit: int = Query(100),
    mine: bool = False,
) -> Page[Environment]:
    return await environments.list_envs(ctx, who, organization, cursor, limit, mine)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_environment(
    ctx: Ctx,
    who: Auth,
    body: EnvironmentCreate,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Environment:
    """With an ``Idempotency-Key`` header, a retry of the same create gets the same
    environment (for 24 hours) instead of a second one."""
    return await idempotency.create(ctx, who, body, idempotency_key)


@router.get("/{env_id}")
async def get_environment(ctx: Ctx, who: Auth, env_id: str) -> Environment:
    return await environments.get(ctx, who, env_id)


@router.put("/{env_id}/spec")
async def update_spec(ctx: Ctx, who: Auth, env_id: str, body: SpecUpdate) -> Environment:
    """Replace the spec. ``spec.spec_version`` must be the version you read (else 409)."""
    return await environments.update_spec(ctx, who, env_id, body.spec)


@router.post("/{env_id}/start")
async def start_environment(ctx: Ctx, who: Auth, env_id: str) -> Environment:
    return await environments.set_desired_phase(ctx, who, env_id, "running")


@router.post("/{env_id}/move")
async def move_environment(ctx: Ctx, who: Auth, env_id: str, body: EnvironmentMove) -> Environment:
    """Move to another runner: stop and back up where it is, restore and start there."""
    return await moves.move(ctx, who, env_id, body.runner)


@router.post("/{env_id}/stop")
async def stop_environment(ctx: Ctx, who: Auth, env_id: str) -> Environment:
    return await environments.set_desired_phase(ctx, who, env_id, "stopped")


@router.delete("/{env_id}")
async def delete_environment(ctx: Ctx, who: Auth, env_id: str) -> Environment:
    return await environments.set_desired_phase(ctx, who, env_id, "deleted")


@router.put("/{env_id}/status")
async def report_status(ctx: Ctx, who: Auth, env_id: str, body: StatusReport) -> Environment:
    """For runners: the observed state of an environment assigned to the calling runner."""
    return await environment_status.report(ctx, who, env_id, body)
