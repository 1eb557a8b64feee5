"""A fake runner in a thread, over real HTTP: for CLI tests that ``--wait`` on a live server."""

import threading
from typing import Any

import httpx

TRANSITIONAL = {"running": "creating", "stopped": "stopping", "deleted": "deleting"}


class ThreadedFakeRunner:
    def __init__(self, url: str, admin_token: str, name: str = "fake") -> None:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {admin_token}"}
        ) as admin:
            reg = admin.post("/api/v1/runners/registration-tokens", json={}).json()["secret"]
        info = {"capacity": {"cpu": 8, "memory_mib": 65536, "disk_gib": 1000, "environments": 50}}
        body = {"registration_token": reg, "name": name, "info": info}
        registered = httpx.post(f"{url}/api/v1/runners/register", json=body).json()
        self.id = registered["runner"]["id"]
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {registered['token']}"}, timeout=40
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "ThreadedFakeRunner":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.http.close()

    def _loop(self) -> None:
        version = 0
        while not self.stop.is_set():
            r = self.http.get("/api/v1/watch", params={"since": version, "timeout": 1})
            version = r.json()["resource_version"]
            for event in r.json()["events"]:
                if event["object"] is not None:
                    self._act(event["object"])

    def _act(self, env: dict[str, Any]) -> None:
        desired = env["spec"]["desired_phase"]
        caught_up = env["status"]["observed_spec_version"] >= env["spec"]["spec_version"]
        if caught_up and env["status"]["phase"] == desired:
            return
        for phase in (TRANSITIONAL[desired], desired):
            self.http.put(
                f"/api/v1/environments/{env['metadata']['id']}/status",
                json={"observed_spec_version": env["spec"]["spec_version"], "phase": phase},
            )
