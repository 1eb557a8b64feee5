"""A fake runner that speaks the real runner protocol over the API.

It registers with a registration token, heartbeats, watches its environments and reports
status -- everything a runner does on the plane's side, with no containers behind it.
"""

from typing import Any

import httpx

from tests.support.plane import PlaneHarness


class FakeRunner:
    def __init__(self, harness: PlaneHarness, name: str = "r1", **info: Any) -> None:
        self.harness = harness
        self.name = name
        self.info: dict[str, Any] = {
            "region": "default",
            "capacity": {"cpu": 8, "memory_mib": 32768, "disk_gib": 500, "environments": 100},
            "runtimes": ["container"],
            **info,
        }
        self.id = ""
        self.token = ""
        self.http: httpx.AsyncClient | None = None
        self.version = 0

    async def register(self) -> "FakeRunner":
        reg = await self.harness.admin.post("/api/v1/runners/registration-tokens", json={})
        assert reg.status_code == 201, reg.text
        body = {"registration_token": reg.json()["secret"], "name": self.name, "info": self.info}
        r = await self.harness.client().post("/api/v1/runners/register", json=body)
        assert r.status_code == 201, r.text
        self.id = r.json()["runner"]["id"]
        self.token = r.json()["token"]
        self.http = self.harness.client(self.token)
        return self

    @property
    def api(self) -> httpx.AsyncClient:
        assert self.http is not None, "register first"
        return self.http

    async def heartbeat(self) -> httpx.Response:
        return await self.api.post(f"/api/v1/runners/{self.id}/heartbeat", json={"info": self.info})

    async def watch(self, timeout: float = 0) -> list[dict[str, Any]]:
        r = await self.api.get(
            "/api/v1/watch",
            params={"kind": "environment", "since": self.version, "timeout": timeout},
        )
        assert r.status_code == 200, r.text
        self.version = r.json()["resource_version"]
        events: list[dict[str, Any]] = r.json()["events"]
        return events

    async def report(self, env: dict[str, Any], phase: str, **extra: Any) -> httpx.Response:
        body = {"observed_spec_version": env["spec"]["spec_version"], "phase": phase, **extra}
        return await self.api.put(f"/api/v1/environments/{env['metadata']['id']}/status", json=body)

    async def reconcile(self) -> list[str]:
        """One level-triggered pass over watched events: act out the desired phase."""
        seen = []
        for event in await self.watch():
            env = event["object"]
            if env is None:
                continue
            desired = env["spec"]["desired_phase"]
            target = {"running": "running", "stopped": "stopped", "deleted": "deleted"}[desired]
            if env["status"]["phase"] != target or (
                env["status"]["observed_spec_version"] < env["spec"]["spec_version"]
            ):
                transitional = {"running": "creating", "stopped": "stopping", "deleted": "deleting"}
                r = await self.report(env, transitional[desired])
                assert r.status_code == 200, r.text
                r = await self.report(r.json(), target)
                assert r.status_code == 200, r.text
                seen.extend([transitional[desired], target])
        return seen
