"""The runner process: connects out to the plane, watches its environments, reconciles them.

Start-up, in order: host check (fixing the hybrid-cgroup case), the environment init binary, the
host network, the plane credential (registering once with the registration token, then reusing
the stored credential), then the loops:

* **watch**: long-polls the plane for changes to environments assigned here and queues them;
  a full list every ``resync_seconds`` repairs anything missed (level-triggered).
* **workers**: take environment ids off a keyed queue (one pass per environment at a time,
  different environments in parallel) and run the reconciler.
* **heartbeat**: every ``heartbeat_seconds``, with capacity and cached images.
* **access server**: exec streams for users (and later SSH and the port proxy).

Environments outlive the runner: stopping or killing it leaves them running, and the next start
re-adopts them (the reconciler observes they run and only reports so).
"""

import asyncio
import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Protocol

import httpx

from roost import __version__
from roost.core.errors import RoostError
from roost.core.schemas.environments import Environment
from roost.core.schemas.runners import Capacity, RunnerInfo
from roost.runner.access import hostkey
from roost.runner.backup.settings import location_of
from roost.runner.client import PlaneClient
from roost.runner.config import RunnerConfig
from roost.runner.workqueue import WorkQueue

log = logging.getLogger(__name__)
WORKERS = 16


class Credential:
    """``<data-dir>/runner.json`` (0600): the runner's id and token, kept across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, server_url: str) -> tuple[str, str] | None:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if doc.get("server") != server_url:
            return None
        return str(doc["runner_id"]), str(doc["token"])

    def save(self, server_url: str, runner_id: str, token: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"server": server_url, "runner_id": runner_id, "token": token}, f)
        os.replace(tmp, self.path)


class Agent:
    def __init__(
        self,
        config: RunnerConfig,
        reconciler_factory: "ReconcilerFactory",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.factory = reconciler_factory
        self.queue = WorkQueue()
        self.desired: dict[str, Environment] = {}
        self.reconciler: ReconcilerLike | None = None
        self.failures: dict[str, int] = {}
        self.runner_id = ""
        self.client: PlaneClient | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()
        self._ssh_host_key: str | None = None

    async def connect(self) -> PlaneClient:
        """The plane client with this runner's credential, registering first if needed."""
        cred = Credential(self.config.data_dir / "runner.json")
        saved = cred.load(self.config.server_url)
        if saved is None:
            token = self.config.registration_token
            if not token:
                raise RoostError(
                    "this runner is not registered yet: pass --token with a registration token "
                    "(an admin makes one with `roost runner token`)"
                )
            anonymous = PlaneClient(self.config.server_url, transport=self.transport)
            try:
                registered = await anonymous.register(token, self.config.name, self.info())
            finally:
                await anonymous.close()
            cred.save(self.config.server_url, registered.runner.id, registered.token)
            saved = (registered.runner.id, registered.token)
        self.runner_id, token = saved
        self.client = PlaneClient(self.config.server_url, token, self.transport)
        return self.client

    def info(self) -> RunnerInfo:
        disk = shutil.disk_usage(self.config.data_dir if self.config.data_dir.exists() else "/")
        backed = getattr(self.factory, "disk_capacity_gib", lambda: None)()  # the disks' room
        disk_gib = disk.total // (1 << 30) if backed is None else backed
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
        return RunnerInfo(
            region=self.config.region,
            labels=self.config.labels,
            capacity=Capacity(
                cpu=float(os.cpu_count() or 1), memory_mib=memory,
                disk_gib=disk_gib, environments=self.config.max_environments,
            ),
            runtimes=self.factory.runtimes(),
            version=__version__,
            access_url=self.config.public_access_url,
            ssh_address=self.config.public_ssh_address,
            ssh_host_key=self._host_key(),
            proxy_domain=self.config.public_proxy_domain,
            images=self.factory.image_refs(),
            backup_location=location_of(self.config.backup_repository),
        )  # fmt: skip

    def _host_key(self) -> str | None:
        """The SSH host key's public line, read once it exists (heartbeats send it each time)."""
        if self._ssh_host_key is None:
            self._ssh_host_key = hostkey.public_line(self.config.data_dir)
        return self._ssh_host_key

    async def run(self) -> None:
        client = await self.connect()
        reconciler = self.reconciler = await self.factory.build(client, self.runner_id)
        attach = getattr(self.factory, "attach_wake", None)
        if attach is not None:  # the factory's watchers (OOM kills) queue an environment
            attach(self.queue.add)
        with contextlib.suppress(RoostError):
            await client.heartbeat(self.runner_id, self.info())
        version = await self._resync(client, everything=True)
        for local_id in self.factory.local_ids():
            self.queue.add(local_id)  # leftovers the plane no longer assigns here get cleaned
        self.tasks = [
            asyncio.create_task(self._watch(client, version), name="watch"),
            asyncio.create_task(self._heartbeat(client), name="heartbeat"),
            asyncio.create_task(self._periodic_resync(client), name="resync"),
            *(
                asyncio.create_task(self._worker(reconciler), name=f"worker-{i}")
                for i in range(WORKERS)
            ),
        ]
        self.ready.set()
        log.info("runner %s (%s) connected to %s", self.config.name, self.runner_id, client.url)
        try:
            await asyncio.gather(*self.tasks)
        finally:
            await self.stop()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []
        if self.client is not None:
            await self.client.close()

    async def _resync(self, client: PlaneClient, *, everything: bool = False) -> int:
        """List what the plane assigns here and queue what is not settled.

        At start every environment is queued (re-adoption). Later, an environment whose plane
        status and local reality already agree with its spec is left alone: with hundreds of
        environments, re-running every one each period would keep the runner busy for seconds
        and slow down every create behind it.
        """
        envs, version = await client.list_environments()
        gone = set(self.desired) - {e.id for e in envs}
        for env in envs:
            self.desired[env.id] = env
            if everything or self.reconciler is None or not await self.reconciler.settled(env):
                self.queue.add(env.id)
        for env_id in gone:
            self.queue.add(env_id)  # the worker asks the plane before removing anything
        return version

    async def _periodic_resync(self, client: PlaneClient) -> None:
        while True:
            await asyncio.sleep(self.config.resync_seconds)
            with contextlib.suppress(RoostError):
                await self._resync(client)

    async def _watch(self, client: PlaneClient, version: int) -> None:
        while True:
            try:
                result = await client.watch(version, timeout=30)
            except RoostError as exc:
                if exc.code == "resource_version_expired":
                    version = await self._resync(client)
                    continue
                log.warning("watch failed (%s); retrying", exc.message)
                await asyncio.sleep(1)
                continue
            version = result.resource_version
            for event in result.events:
                self._on_event(event.object_id, event.object)

    def _on_event(self, env_id: str, obj: dict[str, object] | None) -> None:
        """Queue a change that asks for work. Most events are our own status reports: those
        need nothing, and reacting to them would chase our own tail."""
        if obj is None:
            self.desired.pop(env_id, None)  # gone, or no longer ours
            self.queue.add(env_id)
            return
        env = Environment.model_validate(obj)
        old = self.desired.get(env_id)
        self.desired[env_id] = env
        if (
            old is None
            or old.spec.spec_version != env.spec.spec_version
            or old.status.runner_id != env.status.runner_id
            or env.status.phase == "unknown"  # the plane lost track of us: report again
        ):
            self.queue.add(env_id)

    async def _heartbeat(self, client: PlaneClient) -> None:
        while True:
            try:
                await client.heartbeat(self.runner_id, self.info())
            except RoostError as exc:
                log.warning("heartbeat failed: %s", exc.message)
            await asyncio.sleep(self.config.heartbeat_seconds)

    async def _worker(self, reconciler: "ReconcilerLike") -> None:
        while True:
            env_id = await self.queue.get()
            try:
                env = await self._current(env_id)
                delay = await reconciler.reconcile(env_id, env)
            except Exception:
                log.exception("reconciling %s failed", env_id)
                delay = 5.0
            finally:
                self.queue.done(env_id)
            self._schedule_retry(env_id, delay)

    def _schedule_retry(self, env_id: str, delay: float | None) -> None:
        """Exponential backoff for an environment that keeps failing, up to five minutes."""
        if delay is None:
            self.failures.pop(env_id, None)
            return
        count = self.failures[env_id] = self.failures.get(env_id, 0) + 1
        self.queue.add_after(env_id, min(delay * 2 ** (count - 1), 300.0))

    async def _current(self, env_id: str) -> Environment | None:
        """The desired state; for an id we have no object for, ask the plane (never guess)."""
        env = self.desired.get(env_id)
        if env is not None and env.status.runner_id == self.runner_id:
            return env
        if self.client is None:
            raise RoostError("not connected to the plane")
        fresh = await self.client.get_environment(env_id)  # raises if the plane is unreachable
        if fresh is None:
            self.desired.pop(env_id, None)
        else:
            self.desired[env_id] = fresh
        return fresh


class ReconcilerLike(Protocol):
    async def reconcile(self, env_id: str, env: Environment | None) -> float | None: ...
    async def settled(self, env: Environment) -> bool: ...


class ReconcilerFactory(Protocol):
    """Builds the reconciler and its parts once the plane client exists (``assembly.py``)."""

    async def build(self, client: PlaneClient, runner_id: str) -> ReconcilerLike: ...
    def runtimes(self) -> list[str]: ...
    def image_refs(self) -> list[str]: ...
    def local_ids(self) -> list[str]: ...
