"""The plane as an ASGI application: routers, error mapping, and the lifespan that owns the
database, migrations, first-start bootstrap and the control loops."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from roost import __version__
from roost.core.clock import Clock, SystemClock
from roost.server import metrics as plane_metrics
from roost.server.api import (
    access,
    activity,
    audit,
    backups,
    classes,
    dotfiles,
    environments,
    errors,
    limits,
    openapi,
    organizations,
    projects,
    proxy,
    quotas,
    readings,
    runners,
    secrets,
    ssh,
    ssh_keys,
    tokens,
    users,
    watch,
)
from roost.server.controllers.backups import mark_orphaned_backups_forever
from roost.server.controllers.housekeeping import prune_events_forever
from roost.server.controllers.idle import IdleStop
from roost.server.controllers.lifecycle import Lifecycle
from roost.server.controllers.loop import Controller
from roost.server.controllers.runner_health import RunnerHealth
from roost.server.controllers.runner_loss import RunnerLoss
from roost.server.controllers.scheduler import Scheduler
from roost.server.services import bootstrap, crypto, events
from roost.server.services.context import Context
from roost.server.settings import Settings
from roost.server.store import files, migrate
from roost.server.store.db import Database
from roost.server.watchhub import WatchHub
from roost.server.web import api as web_api
from roost.server.web import pages as web_pages

log = logging.getLogger(__name__)
ROUTERS = (
    organizations,
    users,
    tokens,
    projects,
    classes,
    environments,
    runners,
    watch,
    audit,
    access,
    backups,
    ssh_keys,
    ssh,
    proxy,
    activity,
    secrets,
    dotfiles,
    quotas,
    readings,
)


@dataclass
class Plane:
    """What the lifespan started; tests reach the context and controllers through it."""

    ctx: Context
    admin_token_path: Path | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    controllers: list[Controller] = field(default_factory=list)


async def start_plane(settings: Settings, clock: Clock, *, controllers: bool = True) -> Plane:
    files.protect(settings.data_dir, settings.database_url, runner_inside=settings.runner_inside)
    db = Database(settings.database_url)
    try:
        await migrate.prepare(db, allow_upgrade=settings.upgrade_db)
    except migrate.SchemaMismatch as e:
        log.error("%s", e)  # noqa: TRY400 - the message is the point, not the traceback
        await db.dispose()
        raise
    hub = WatchHub()
    db.on_commit.append(hub.notify)
    ctx = Context(db=db, clock=clock, settings=settings, hub=hub)
    plane = Plane(ctx=ctx, admin_token_path=await bootstrap.ensure_initialized(ctx))
    crypto.box(settings.data_dir)  # the secrets master key: loaded, or made at first start
    log.info("plane ready on %s", "SQLite" if db.is_sqlite else "PostgreSQL")
    if controllers:
        plane.controllers = [
            Scheduler(ctx), Lifecycle(ctx), RunnerHealth(ctx), RunnerLoss(ctx), IdleStop(ctx),
        ]  # fmt: skip
        for controller in plane.controllers:
            plane.tasks.append(asyncio.create_task(controller.run_forever(), name=controller.name))
        plane.tasks.append(asyncio.create_task(prune_events_forever(ctx), name="prune-events"))
        plane.tasks.append(
            asyncio.create_task(mark_orphaned_backups_forever(ctx), name="backup-retention")
        )
    if not db.is_sqlite:
        plane.tasks.append(
            asyncio.create_task(
                hub.poll_database(lambda: _version(db), settings.watch_poll_seconds)
            )
        )
    return plane


async def _version(db: Database) -> int:
    async with db.read() as session:
        return await events.current_version(session)


async def stop_plane(plane: Plane) -> None:
    for task in plane.tasks:
        task.cancel()
    for task in plane.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await plane.ctx.db.dispose()


def create_app(
    settings: Settings, clock: Clock | None = None, *, controllers: bool = True
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        plane = await start_plane(settings, clock or SystemClock(), controllers=controllers)
        plane.ctx.hub.on_delivery = metrics.watch_lag.observe
        app.state.plane = plane
        app.state.ctx = plane.ctx
        try:
            yield
        finally:
            await stop_plane(plane)

    app = FastAPI(
        title="Roost",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(limits.BodyLimit)
    metrics = plane_metrics.install(app)
    for module in ROUTERS:
        app.include_router(module.router, responses=openapi.ERRORS)
    app.include_router(web_api.router, responses=openapi.ERRORS)
    app.include_router(web_pages.router)
    app.mount("/static", web_pages.static_files(), name="static")
    openapi.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        """Liveness for load balancers; reveals nothing, so it needs no token."""
        return PlainTextResponse("ok")

    return app
