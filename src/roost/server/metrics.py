"""Prometheus metrics of the plane, at ``GET /metrics`` (text exposition format).

Each plane has its own registry (tests start many planes in one process). What is measured:

- ``roost_http_request_duration_seconds{method,route,status}``: every API request, by route
  template (``/api/v1/environments/{env_id}``), never by concrete id;
- ``roost_environments{phase}`` and ``roost_runner_heartbeat_age_seconds{runner,region,state}``:
  read from the database at scrape time;
- ``roost_controller_pass_age_seconds{controller}`` (reconcile lag: how long since a controller
  last finished a pass; it grows while a loop is stuck or paused) and
  ``roost_controller_paused{controller}`` (1 while the database is unreachable);
- ``roost_watch_delivery_lag_seconds``: from a change's commit to its delivery to a watcher.

The endpoint needs no token, like ``/healthz``: it shows counts, runner names and route
templates, nothing about any environment's content. Keep it off untrusted networks all the same.
"""

import time
from collections.abc import Sequence

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.server.controllers.loop import Controller
from roost.server.services import plane_stats
from roost.server.services.context import Context

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class PlaneMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram(
            "roost_http_request_duration_seconds", "API request latency",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.environments = Gauge(
            "roost_environments", "Environments by observed phase", ["phase"], registry=r
        )
        self.heartbeat_age = Gauge(
            "roost_runner_heartbeat_age_seconds", "Seconds since each runner's last heartbeat",
            ["runner", "region", "state"], registry=r,
        )  # fmt: skip
        self.pass_age = Gauge(
            "roost_controller_pass_age_seconds", "Seconds since the controller's last pass",
            ["controller"], registry=r,
        )  # fmt: skip
        self.paused = Gauge(
            "roost_controller_paused", "1 while the controller waits for the database",
            ["controller"], registry=r,
        )  # fmt: skip
        self.watch_lag = Histogram(
            "roost_watch_delivery_lag_seconds", "From a change's commit to its delivery",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

    async def refresh(self, ctx: Context, controllers: Sequence[Controller]) -> None:
        """Read the gauges that come from the database and the controllers."""
        self.environments.clear()
        for phase, count in (await plane_stats.environments_by_phase(ctx)).items():
            self.environments.labels(phase).set(count)
        self.heartbeat_age.clear()
        now = ctx.clock.now()
        for beat in await plane_stats.runner_heartbeats(ctx):
            age = (now - beat.last_heartbeat).total_seconds() if beat.last_heartbeat else -1
            self.heartbeat_age.labels(beat.name, beat.region, beat.state).set(age)
        for c in controllers:
            self.pass_age.labels(c.name).set(time.monotonic() - c.last_pass)
            self.paused.labels(c.name).set(1 if c.paused else 0)


class Timing:
    """ASGI middleware: request latency by route template (pure ASGI: long polls and error
    handlers pass through untouched)."""

    def __init__(self, app: ASGIApp, metrics: PlaneMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = self.route(scope)
            if route != "/metrics":
                self.metrics.requests.labels(scope["method"], route, f"{status // 100}xx").observe(
                    time.perf_counter() - start
                )

    @staticmethod
    def route(scope: Scope) -> str:
        """The matched route's template; the router records it in the (shared) scope."""
        return str(getattr(scope.get("route"), "path", "unmatched"))


def install(app: FastAPI) -> PlaneMetrics:
    metrics = PlaneMetrics()
    app.add_middleware(Timing, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def _metrics(request: Request) -> Response:
        plane = request.app.state.plane
        await metrics.refresh(plane.ctx, plane.controllers)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
