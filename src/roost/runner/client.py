"""The runner's side of the runner protocol: an async client of the plane's API.

The runner only ever connects *out* to the plane (so it works behind NAT); every call carries the
runner's own credential.

Idempotent calls (reads, status reports, heartbeats, backup records and releases: sending one
twice changes nothing) are sent again when the connection fails before an answer. The usual
cause is a pooled keep-alive connection that a restarted plane closed: the pool drops it, and the
retry goes out on a fresh one -- instead of the caller seeing "cannot reach the plane" (which
once put a running environment in ``failed`` for half a minute after a plane restart).
"""

import asyncio
from typing import Any

import httpx

from roost.core.errors import RoostError, Unavailable, api_error
from roost.core.schemas.activity import ActivityReport
from roost.core.schemas.backups import (
    Backup,
    BackupAccess,
    BackupDeletions,
    BackupRecord,
    BackupRelease,
    BackupsDeleted,
)
from roost.core.schemas.dotfiles import Dotfiles
from roost.core.schemas.environments import Environment, StatusReport
from roost.core.schemas.proxy import ProxyAuthorize, ProxyDecision, ProxySession, ProxySessionCreate
from roost.core.schemas.readings import ReadingsReport
from roost.core.schemas.runners import RunnerInfo, RunnerRegistered
from roost.core.schemas.secrets import EnvironmentSecrets
from roost.core.schemas.ssh import SshAuthorize, SshGrant
from roost.core.schemas.watch import WatchResponse

RETRIES = (0.0, 0.5, 2.0)
"""Pauses before sending an idempotent call again: at once on a fresh connection, then twice
more in case the plane is just coming back."""
CONNECTION_LOST = (httpx.NetworkError, httpx.RemoteProtocolError)
ACCESS_TIMEOUT = httpx.Timeout(5.0)
"""For the questions a user waits on at a prompt (may this key, ticket, request enter?): a plane
that does not answer in 5 s is reported unreachable at once, not after the 75 s read timeout
meant for long-polling watches (docs/architecture.md, "When the plane is down")."""
"""The request did not get an answer on this connection (closed, reset, refused)."""


class PlaneClient:
    def __init__(
        self, url: str, token: str | None = None, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=self.url + "/api/v1", headers=headers, transport=transport,
            timeout=httpx.Timeout(10.0, read=75.0),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )  # fmt: skip

    async def close(self) -> None:
        await self.http.aclose()

    async def _call(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> Any:
        if idempotent is None:
            idempotent = method in ("GET", "PUT")
        for delay in (*(RETRIES if idempotent else ()), None):
            try:
                response = await self.http.request(method, path, **kwargs)
                break
            except CONNECTION_LOST as exc:
                if delay is None:
                    raise Unavailable(f"cannot reach the plane at {self.url}: {exc!r}") from exc
                await asyncio.sleep(delay)
            except httpx.TransportError as exc:  # a timeout: the plane may still be working
                raise Unavailable(f"cannot reach the plane at {self.url}: {exc!r}") from exc
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
                raise api_error(response.status_code, err["code"], err["message"])
            except (ValueError, KeyError, TypeError):
                raise RoostError(f"HTTP {response.status_code} from the plane") from None
        return response.json() if response.content else None

    async def register(
        self, registration_token: str, name: str, info: RunnerInfo
    ) -> RunnerRegistered:
        body = {"registration_token": registration_token, "name": name,
                "info": info.model_dump(mode="json")}  # fmt: skip
        return RunnerRegistered.model_validate(
            await self._call("POST", "/runners/register", json=body)
        )

    async def heartbeat(self, runner_id: str, info: RunnerInfo) -> None:
        await self._call(
            "POST", f"/runners/{runner_id}/heartbeat", idempotent=True,
            json={"info": info.model_dump(mode="json")},
        )  # fmt: skip

    async def list_environments(self) -> tuple[list[Environment], int]:
        items: list[Environment] = []
        cursor: str | None = None
        version = 0
        while True:
            params: dict[str, Any] = {"limit": 500} | ({"cursor": cursor} if cursor else {})
            page = await self._call("GET", "/environments", params=params)
            version = version or int(page["resource_version"])
            items += [Environment.model_validate(i) for i in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return items, version

    async def get_environment(self, env_id: str) -> Environment | None:
        try:
            return Environment.model_validate(await self._call("GET", f"/environments/{env_id}"))
        except RoostError as exc:
            if exc.code == "not_found":
                return None
            raise

    async def watch(self, since: int, timeout: float) -> WatchResponse:
        params = {"kind": "environment", "since": since, "timeout": timeout}
        return WatchResponse.model_validate(await self._call("GET", "/watch", params=params))

    async def report(self, env_id: str, report: StatusReport) -> Environment:
        doc = await self._call(
            "PUT", f"/environments/{env_id}/status", json=report.model_dump(mode="json")
        )
        return Environment.model_validate(doc)

    async def verify_ticket(
        self, runner_id: str, ticket: str, env_id: str, purpose: str = "exec"
    ) -> dict[str, Any]:
        body = {"ticket": ticket, "environment_id": env_id, "purpose": purpose}
        result: dict[str, Any] = await self._call(
            "POST", f"/runners/{runner_id}/tickets/verify", json=body, timeout=ACCESS_TIMEOUT
        )
        return result

    # Backups (``roost.runner.backup``): the plane keeps the record and the repository keys.

    async def backup_access(self, env_id: str) -> BackupAccess:
        doc = await self._call("GET", f"/environments/{env_id}/backups/access")
        return BackupAccess.model_validate(doc)

    async def record_backup(self, env_id: str, record: BackupRecord) -> Backup:
        doc = await self._call(
            "POST", f"/environments/{env_id}/backups", idempotent=True,
            json=record.model_dump(mode="json"),
        )  # fmt: skip
        return Backup.model_validate(doc)

    async def release(self, env_id: str, snapshot: str) -> Environment:
        body = BackupRelease(snapshot=snapshot).model_dump(mode="json")
        return Environment.model_validate(
            await self._call("POST", f"/environments/{env_id}/release", idempotent=True, json=body)
        )

    async def backup_deletions(self, runner_id: str) -> BackupDeletions:
        doc = await self._call("GET", f"/runners/{runner_id}/backup-deletions")
        return BackupDeletions.model_validate(doc)

    async def backups_deleted(self, runner_id: str, snapshots: list[str]) -> None:
        body = BackupsDeleted(snapshots=snapshots).model_dump(mode="json")
        await self._call("POST", f"/runners/{runner_id}/backup-deletions", json=body)

    # Access (``roost.runner.access``): the SSH gateway and the port proxy ask, the plane decides.

    async def ssh_authorize(self, runner_id: str, body: SshAuthorize) -> SshGrant:
        doc = await self._call(
            "POST", f"/runners/{runner_id}/ssh/authorize", json=body.model_dump(mode="json"),
            timeout=ACCESS_TIMEOUT,
        )  # fmt: skip
        return SshGrant.model_validate(doc)

    async def proxy_authorize(self, runner_id: str, body: ProxyAuthorize) -> ProxyDecision:
        doc = await self._call(
            "POST", f"/runners/{runner_id}/proxy/authorize", json=body.model_dump(mode="json"),
            timeout=ACCESS_TIMEOUT,
        )  # fmt: skip
        return ProxyDecision.model_validate(doc)

    async def proxy_session(self, runner_id: str, body: ProxySessionCreate) -> ProxySession:
        doc = await self._call(
            "POST", f"/runners/{runner_id}/proxy/sessions", json=body.model_dump(mode="json")
        )
        return ProxySession.model_validate(doc)

    async def report_activity(self, runner_id: str, body: ActivityReport) -> None:
        await self._call(
            "POST", f"/runners/{runner_id}/activity", json=body.model_dump(mode="json")
        )

    async def report_readings(self, runner_id: str, body: ReadingsReport) -> None:
        await self._call(
            "POST", f"/runners/{runner_id}/readings", json=body.model_dump(mode="json")
        )

    # Secrets and dotfiles: only for environments assigned to this runner (the plane checks).

    async def environment_secrets(self, env_id: str) -> EnvironmentSecrets:
        doc = await self._call("GET", f"/environments/{env_id}/secrets/values")
        return EnvironmentSecrets.model_validate(doc)

    async def environment_dotfiles(self, env_id: str) -> Dotfiles:
        return Dotfiles.model_validate(await self._call("GET", f"/environments/{env_id}/dotfiles"))
