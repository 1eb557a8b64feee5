"""Helpers for the access tests of the plane: keys, users, running environments."""

from typing import Any

import asyncssh
import httpx

from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


def public_key(comment: str = "me@laptop", algorithm: str = "ssh-ed25519", **kw: Any) -> str:
    key = asyncssh.generate_private_key(algorithm, comment=comment, **kw)
    return key.export_public_key().decode().strip()


def token_of(client: httpx.AsyncClient) -> str:
    return client.headers["authorization"].split()[1]


async def running_env(
    plane: PlaneHarness, on: FakeRunner, client: httpx.AsyncClient, **spec: Any
) -> dict[str, Any]:
    """An environment of ``client``'s user, placed on runner ``on`` and reported running."""
    r = await client.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    await plane.schedule()
    await on.reconcile()
    doc: dict[str, Any] = (
        await client.get(f"/api/v1/environments/{r.json()['metadata']['id']}")
    ).json()
    assert doc["status"]["phase"] == "running", doc["status"]
    return doc


async def audit(plane: PlaneHarness, action: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await plane.admin.get("/api/v1/audit?limit=500")).json()["items"]
    return [e for e in items if e["action"] == action]
