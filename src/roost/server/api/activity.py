from fastapi import APIRouter, status

from roost.core.schemas.activity import ActivityReport
from roost.server.api.deps import Auth, Ctx
from roost.server.services import activity

router = APIRouter(prefix="/api/v1/runners/{runner_id}/activity", tags=["activity"])


@router.post("", status_code=status.HTTP_204_NO_CONTENT)
async def report_activity(ctx: Ctx, who: Auth, runner_id: str, body: ActivityReport) -> None:
    """For runners: when each environment last saw SSH traffic or proxied requests."""
    await activity.report(ctx, who, runner_id, body)
