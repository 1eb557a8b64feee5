from fastapi import APIRouter, status

from roost.core.schemas.readings import Readings, ReadingsReport
from roost.server.api.deps import Auth, Ctx
from roost.server.services import readings

router = APIRouter(prefix="/api/v1", tags=["readings"])


@router.post("/runners/{runner_id}/readings", status_code=status.HTTP_204_NO_CONTENT)
async def report_readings(ctx: Ctx, who: Auth, runner_id: str, body: ReadingsReport) -> None:
    """For runners: resource readings of their environments, kept a few hours for charts."""
    await readings.record(ctx, who, runner_id, body)


@router.get("/environments/{env_id}/readings")
async def get_readings(ctx: Ctx, who: Auth, env_id: str) -> Readings:
    """CPU time, memory and disk of an environment over the last hours (oldest first)."""
    return await readings.list_for(ctx, who, env_id)
