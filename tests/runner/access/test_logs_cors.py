"""The logs route is readable from the dashboard's origin, with the ticket as the credential."""

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from roost.core.errors import Unauthenticated
from roost.core.schemas.access import TicketGrant
from roost.runner.access.logs import routes
from roost.runner.devcontainer.logs import LogStore


async def verify(ticket: str, env_id: str, purpose: str) -> TicketGrant:
    if ticket != "good":
        raise Unauthenticated("bad ticket")
    return TicketGrant(user_id="u", user_name="alice", environment_id=env_id)


async def test_logs_answer_a_browser_preflight_and_read(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    log = store.open_run("env1", "postCreateCommand", "--- run\\n")
    with log.open("a") as f:
        f.write("built\n")
    app = web.Application()
    app.add_routes(routes(store, verify, lambda e, n: False))
    async with TestClient(TestServer(app)) as client:
        pre = await client.options("/logs/env1", headers={
            "Origin": "http://plane", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})  # fmt: skip
        assert pre.status == 204
        assert pre.headers["Access-Control-Allow-Headers"] == "Authorization"
        assert "Access-Control-Allow-Credentials" not in pre.headers
        ok = await client.get("/logs/env1", headers={"Authorization": "Bearer good"})
        assert ok.headers["Access-Control-Allow-Origin"] == "*"
        assert "built" in await ok.text()
        step = await client.get("/logs/env1?step=postCreateCommand",
                                headers={"Authorization": "Bearer good"})  # fmt: skip
        assert step.headers["Access-Control-Allow-Origin"] == "*"
        refused = await client.get("/logs/env1", headers={"Authorization": "Bearer bad"})
        assert refused.status == 401
