"""The runner's automation endpoints, each admitted by a one-use ``automations`` ticket:

* ``GET  /automations/<env-id>`` -- services and tasks with their states;
* ``POST /automations/<env-id>/tasks/<id>/run`` -- run a task (and what it depends on);
* ``POST /automations/<env-id>/services/<id>/start`` and ``.../stop``.

Answers are JSON; errors are ``{"error": {"code", "message"}}`` like the plane's. Usable
cross-origin, for the dashboard (see ``access.tickets.CORS``).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from roost.core.errors import ApiError
from roost.runner.access.tickets import VerifyPurpose, admit, preflight, refuse, with_cors
from roost.runner.automations.manager import EnvironmentAutomations, ItemState
from roost.runner.automations.step import AutomationsStep

Action = Callable[[EnvironmentAutomations, str], Awaitable[Any]]


def routes(step: AutomationsStep, verify: VerifyPurpose) -> list[web.RouteDef]:
    def endpoint(action: Action | None) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            grant = await admit(request, verify, "automations")
            if isinstance(grant, web.Response):
                return grant
            env_id = request.match_info["env_id"]
            manager = step.get(env_id)
            if manager is None:
                return refuse(
                    404, f"environment {env_id} has no automations running here (no "
                    ".roost/automations.yaml or .gitpod/automations.yaml, an invalid one, or "
                    "it is not running)", "not_found",
                )  # fmt: skip
            if action is None:
                return web.json_response(manager.view())
            try:
                result = await action(manager, request.match_info["item"])
            except ApiError as exc:
                return refuse(exc.status, exc.message, exc.code)
            return web.json_response(result.view() if isinstance(result, ItemState) else result)

        return handler

    async def run_task(manager: EnvironmentAutomations, tid: str) -> ItemState:
        await manager.run_tasks([tid])
        return manager.tasks[tid]

    async def start(manager: EnvironmentAutomations, sid: str) -> ItemState:
        return await manager.start_service(sid)

    async def stop(manager: EnvironmentAutomations, sid: str) -> ItemState:
        return await manager.stop_service(sid)

    return [
        web.get("/automations/{env_id}", with_cors(endpoint(None))),
        web.options("/automations/{env_id}", preflight("GET")),
        web.post("/automations/{env_id}/tasks/{item}/run", with_cors(endpoint(run_task))),
        web.post("/automations/{env_id}/services/{item}/start", with_cors(endpoint(start))),
        web.post("/automations/{env_id}/services/{item}/stop", with_cors(endpoint(stop))),
        web.options("/automations/{env_id}/{kind}/{item}/{verb}", preflight("POST")),
    ]
