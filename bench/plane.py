"""bench/plane.py -- how much API load does the plane take, on SQLite and on PostgreSQL?

Per backend: a plane (SQLite: one ``roost server``; PostgreSQL: three replicas behind haproxy
on a private cluster), ``--runners`` simulated runners in ``--workers`` processes (each runner
registers, heartbeats every 5 s, long-polls its watch and reports creating → running or
stopping → stopped over HTTP, as real runners do), ``--envs`` environments created through the
API, then a mixed load -- list 15 %, get 45 %, create 10 %, start 10 %, stop 10 %, watch 10 % --
sent open-loop at each rate of ``--rates`` for ``--seconds``. Reported: achieved rate, p50/p99
latency, errors, and the runners' watch delivery delay (from a change's ``updated_at`` to its
arrival at the runner). Targets (issue 20): 500 req/s with p99 <= 50 ms and zero errors; watch
p99 <= 200 ms. Loopback only; every phase is bounded in count and time.

Run: ``.venv/bin/python -m bench.plane [--backends sqlite,postgresql] [--envs 10000]
[--runners 100] [--rates 100,250,500] [--seconds 30]``.
"""

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import random
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tests.support.live import live_server
from tests.support.postgres import running_cluster
from tests.support.replicas import replicas_behind_haproxy

from bench.stack import pct, write

MIX = (("list", 15), ("get", 45), ("create", 10), ("start", 10), ("stop", 10), ("watch", 10))
CAPACITY = {"cpu": 100000, "memory_mib": 1 << 30, "disk_gib": 1 << 30, "environments": 100000}
TRANSITIONS = {"running": ("creating", "running"), "stopped": ("stopping", "stopped")}


@contextlib.contextmanager
def plane(backend: str, work: Path) -> Iterator[tuple[str, str]]:
    """The plane's URL and admin token."""
    if backend == "sqlite":
        with live_server(work / "plane") as server:
            yield server.url, server.admin_token
        return
    with running_cluster() as pg, replicas_behind_haproxy(work, pg.url(), 3) as cluster:
        yield cluster.url, cluster.admin_token


# --- simulated runners (in worker processes) ---------------------------------------------


def runner_worker(url: str, tokens: list[str], stop: Any, out: "mp.Queue[Any]") -> None:
    delays: list[float] = []
    try:
        asyncio.run(run_runners(url, tokens, stop, delays))
    finally:
        out.put(delays)


async def run_runners(url: str, tokens: list[str], stop: Any, delays: list[float]) -> None:
    limits = httpx.Limits(max_connections=len(tokens) * 3)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        runners = [await register(http, t, i) for i, t in enumerate(tokens)]
        await asyncio.gather(*(runner_loop(http, r, stop, delays) for r in runners))


async def register(http: httpx.AsyncClient, token: str, index: int) -> dict[str, str]:
    body = {"registration_token": token, "name": f"sim-{secrets.token_hex(4)}-{index}",
            "info": {"region": "default", "capacity": CAPACITY}}  # fmt: skip
    r = (await http.post("/api/v1/runners/register", json=body)).json()
    return {"id": r["runner"]["id"], "auth": f"Bearer {r['token']}"}


async def runner_loop(
    http: httpx.AsyncClient, runner: dict[str, str], stop: Any, delays: list[float]
) -> None:
    """Until ``stop`` (an ``mp.Event``) is set by the user side, which decides when it ends."""
    headers = {"Authorization": runner["auth"]}
    version, next_beat = 0, 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_beat:
                await http.post(f"/api/v1/runners/{runner['id']}/heartbeat",
                                json={"info": {"capacity": CAPACITY}}, headers=headers)  # fmt: skip
                next_beat = time.monotonic() + 5
            r = await http.get("/api/v1/watch", headers=headers,
                               params={"since": version, "timeout": 5})  # fmt: skip
        except httpx.HTTPError:
            await asyncio.sleep(0.5)
            continue
        if r.status_code != 200:
            await asyncio.sleep(0.5)
            continue
        version = r.json()["resource_version"]
        arrived = datetime.now(UTC)
        for event in r.json()["events"]:
            env = event["object"]
            if env is not None:
                changed = datetime.fromisoformat(env["metadata"]["updated_at"])
                delays.append((arrived - changed).total_seconds())
                await act(http, headers, env)


async def act(http: httpx.AsyncClient, headers: dict[str, str], env: dict[str, Any]) -> None:
    desired, status = env["spec"]["desired_phase"], env["status"]
    if desired not in TRANSITIONS or status["phase"] == desired:
        return
    for phase in TRANSITIONS[desired]:
        body = {"observed_spec_version": env["spec"]["spec_version"], "phase": phase}
        await http.put(f"/api/v1/environments/{env['metadata']['id']}/status", json=body,
                       headers=headers)  # fmt: skip


# --- the user load ------------------------------------------------------------------------


async def seed(http: httpx.AsyncClient, count: int) -> tuple[list[str], int]:
    """Create ``count`` environments, 32 at a time; returns their ids and how many failed."""
    ids: list[str] = []
    failed = 0
    kinds: dict[str, int] = {}
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        nonlocal failed
        async with sem:
            try:
                r = await http.post("/api/v1/environments", json={"name": f"seed-{i}"})
            except httpx.HTTPError as e:
                failed += 1
                kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
                return
            if r.status_code == 201:
                ids.append(r.json()["metadata"]["id"])
            else:
                failed += 1
                kinds[str(r.status_code)] = kinds.get(str(r.status_code), 0) + 1

    await asyncio.gather(*(one(i) for i in range(count)))
    if kinds:
        print("seed errors:", kinds)
    return ids, failed


async def request(http: httpx.AsyncClient, kind: str, ids: list[str], n: int) -> int:
    env = random.choice(ids)
    if kind == "list":
        r = await http.get("/api/v1/environments", params={"limit": 50})
    elif kind == "get":
        r = await http.get(f"/api/v1/environments/{env}")
    elif kind == "create":
        r = await http.post("/api/v1/environments", json={"name": f"load-{n}-{time.time_ns()}"})
    elif kind in ("start", "stop"):
        r = await http.post(f"/api/v1/environments/{env}/{kind}")
    else:
        r = await http.get("/api/v1/watch", params={"kind": "environment", "timeout": 0})
    return r.status_code


async def load(
    http: httpx.AsyncClient, ids: list[str], rate: float, seconds: float
) -> dict[str, Any]:
    kinds = [k for k, w in MIX for _ in range(w)]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    tasks: list[asyncio.Task[None]] = []

    async def one(n: int) -> None:
        kind = random.choice(kinds)
        start = time.perf_counter()
        try:
            status = await request(http, kind, ids, n)
        except httpx.HTTPError as e:
            status = type(e).__name__  # type: ignore[assignment]
        latencies.append(time.perf_counter() - start)
        if status not in (200, 201, 409):  # 409: start/stop raced with the runner; not an error
            errors[f"{kind}:{status}"] = errors.get(f"{kind}:{status}", 0) + 1

    began = time.perf_counter()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    took = time.perf_counter() - began
    return {
        "target_rps": rate,
        "achieved_rps": round(len(latencies) / took, 1),
        "p50_ms": round(pct(latencies, 50) * 1000, 1),
        "p99_ms": round(pct(latencies, 99) * 1000, 1),
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="roost-bench-plane-") as tmp,
        plane(backend, Path(tmp)) as (url, token),
    ):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as admin:
            tokens = [admin.post("/api/v1/runners/registration-tokens", json={}).json()["secret"]
                      for _ in range(args.runners)]  # fmt: skip
        queue: mp.Queue[Any] = mp.Queue()
        stop = mp.Event()
        workers = [
            mp.Process(target=runner_worker, args=(url, tokens[i :: args.workers], stop, queue))
            for i in range(args.workers)
        ]
        for w in workers:
            w.start()
        try:
            result = asyncio.run(user_side(url, headers, args))
        finally:
            stop.set()
            delays = [d for _ in workers for d in queue.get(timeout=120)]
            for w in workers:
                w.join(30)
                if w.is_alive():
                    w.kill()
        result["watch_delivery"] = {
            "n": len(delays),
            "p50_ms": round(pct(delays, 50) * 1000, 1) if delays else None,
            "p99_ms": round(pct(delays, 99) * 1000, 1) if delays else None,
        }
        return result


async def user_side(url: str, headers: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=400)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as http:
        await asyncio.sleep(5)  # runners register
        began = time.perf_counter()
        ids, failed = await seed(http, args.envs)
        seeded = time.perf_counter() - began
        steps = [await load(http, ids, rate, args.seconds) for rate in args.rates]
    return {"seeded": len(ids), "seed_errors": failed, "seed_seconds": round(seeded, 1),
            "rates": steps}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--envs", type=int, default=10000)
    parser.add_argument("--runners", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rates", default="100,250,500")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    if args.envs > 20000 or args.runners > 200 or args.seconds > 300:
        parser.error("bounded: at most 20000 environments, 200 runners, 300 s per rate")
    doc = {b: run_backend(b, args) for b in args.backends.split(",")}
    doc["targets"] = {"rps": 500, "p99_ms": 50, "errors": 0, "watch_p99_ms": 200}
    print(write("plane", {"params": {k: v for k, v in vars(args).items()}, **doc}))


if __name__ == "__main__":
    main()
