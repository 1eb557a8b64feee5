"""Housekeeping: prunes the watch change log past its retention (idempotent; needs no lease)."""

import asyncio
import logging
from datetime import timedelta

from roost.server.services import events
from roost.server.services.context import Context

log = logging.getLogger(__name__)


async def prune_events_forever(ctx: Context) -> None:
    retention = timedelta(seconds=ctx.settings.event_retention_seconds)
    while True:
        try:
            await events.prune(ctx, retention)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pruning the change log failed; will retry")
        await ctx.clock.sleep(min(300.0, ctx.settings.event_retention_seconds / 4))
