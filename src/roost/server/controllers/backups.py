"""Backup retention on the plane: starts the clock on backups of deleted environments.

Idempotent (one UPDATE of rows still ``kept`` whose environment is gone), so it needs no lease
and several replicas may run it. The deleting itself is done by runners
(:mod:`roost.server.services.backup_retention`).
"""

import asyncio
import logging

from roost.server.services import backup_retention
from roost.server.services.context import Context

log = logging.getLogger(__name__)


async def mark_orphaned_backups_forever(ctx: Context) -> None:
    while True:
        try:
            marked = await backup_retention.mark_orphans(ctx)
            if marked:
                log.info("%d backups of deleted environments start their retention", marked)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("marking backups of deleted environments failed; will retry")
        await ctx.clock.sleep(60.0)
