"""What the isolation suite runs on: real runners per runtime, environments, the probe.

* :func:`isolation_runner`: a real runner (crun, runsc) on its own bridge, subnet, nft table and
  cgroup parent, its access server on every host address (so "the runner API is unreachable"
  tests something), and at the end every sandbox it ran deleted as well.
* :func:`exec_as`: ``roost env exec`` by hand with an explicit user inside (``"0:0"`` root,
  ``"1000:1000"`` the remote user the suite creates).
* :func:`run_probe`: runs ``probe.py`` in an environment and parses its report.
* :func:`expectations`: the documented boundary of each runtime, from the code that makes it.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.runner.runtime.container import bundle
from roost.runner.runtime.sandbox import bundle as sandbox_bundle
from tests.runner.conftest import shared_image_store
from tests.support.live import free_port
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, exec_stream, free_subnet, real_runner, wait_phase

PROBE = (Path(__file__).parent / "probe.py").read_text()
RUNTIMES = ("container", "sandbox")
USER = "1000:1000"
ROOT = "0:0"
CAPABILITY_NUMBERS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}  # fmt: skip
"""Bit numbers, from linux/capability.h."""
FORBIDDEN_CAPABILITIES = (
    "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_BOOT",
    "CAP_NET_ADMIN", "CAP_BPF", "CAP_DAC_READ_SEARCH", "CAP_PERFMON", "CAP_SYS_TIME",
    "CAP_SYSLOG", "CAP_SYS_PACCT", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_SYS_RESOURCE",
)  # fmt: skip


@dataclass
class Report:
    """A probe's output, one entry per check."""

    results: dict[str, tuple[str, str]] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    def failures(self) -> dict[str, str]:
        return {k: d for k, (s, d) in self.results.items() if s == "FAIL"}

    def status(self, check: str) -> str:
        return self.results[check][0]


def parse(output: str) -> Report:
    report = Report(raw=output)
    for line in output.splitlines():
        status, _, rest = line.partition(" ")
        name, _, detail = rest.partition(" ")
        if status == "INFO":
            report.info[name] = detail
        elif status in ("PASS", "FAIL", "SKIP"):
            report.results[name] = (status, detail)
    return report


ADAPTED: dict[str, dict[str, str]] = {
    "sandbox": {
        "readonly.proc_sys": "gVisor's /proc/sys is the Sentry's own emulation, not the host's: "
        "a write changes the sandbox kernel's setting (its hostname, its network stack), never "
        "the host's; runsc 20221219 does not apply readonlyPaths to it",
    },
}
KNOWN_GAPS: dict[str, dict[str, str]] = {}
"""Checks a runtime fails today, by design or not yet fixed (each in docs/security.md)."""
GVISOR_DEVICES = [[10, 229], [10, 200]]
"""/dev/fuse and /dev/net/tun in a gVisor sandbox: the Sentry's own emulations, no host device
behind them, and unusable without CAP_SYS_ADMIN / CAP_NET_ADMIN, which no environment holds."""


def evaluate(runtime: str, identity: str, report: Report) -> list[str]:
    """Every problem in ``report``; adapted checks and known gaps are not problems."""
    problems = []
    for check, detail in report.failures().items():
        if check in ADAPTED.get(runtime, {}) or check in KNOWN_GAPS.get(runtime, {}):
            continue
        problems.append(f"[{identity}] {check}: {detail}")
    for check in KNOWN_GAPS.get(runtime, {}):
        if report.status(check) != "FAIL":
            problems.append(f"[{identity}] {check} passes now: remove it from KNOWN_GAPS and "
                            "from docs/security.md")  # fmt: skip
    return problems


def documented_capabilities(runtime: str) -> list[str]:
    caps = list(bundle.CAPABILITIES)
    if runtime == "sandbox":
        caps = [c for c in caps if c not in sandbox_bundle.DROPPED_CAPABILITIES]
    return caps


def expectations(runtime: str, runner: RealRunner, **extra: Any) -> dict[str, Any]:
    data_dir = runner.config.data_dir
    return {
        "capabilities": {c: CAPABILITY_NUMBERS[c] for c in documented_capabilities(runtime)},
        "forbidden_capabilities": {c: CAPABILITY_NUMBERS[c] for c in FORBIDDEN_CAPABILITIES},
        "masked": list(bundle.MASKED),
        "devices": [list(d) for d in bundle.STANDARD_DEVICES]
        + (GVISOR_DEVICES if runtime == "sandbox" else []),
        "mountinfo_forbidden": {
            "runner_credential": [str(data_dir / "runner.json")],
            "runner_state": [
                str(data_dir / "state"),
                str(data_dir / "network"),
                str(data_dir / "envs" / ".crun"),
                str(data_dir / "sandboxes/.runsc"),
            ],
            "image_store": [str(shared_image_store().root)],
            "id_allocations": [str(runner.config.ids_dir)],
            "network_namespaces": ["/run/netns"],
        },
        "host_paths": [str(data_dir), "/run/roost", str(shared_image_store().root)],
        "init": bundle.INIT_PATH,
        "gateway": str(runner.assembly.network.config.gateway),
        **extra,
    }


@asynccontextmanager
async def isolation_runner(
    plane: PlaneHarness, tmp: Path, runtime: str, name: str = "iso"
) -> AsyncIterator[RealRunner]:
    overrides = {"subnet": free_subnet(218), "access_listen": f"0.0.0.0:{free_port()}"}
    async with real_runner(plane, tmp, shared_image_store(), name=name, **overrides) as runner:
        if runtime == "sandbox" and runner.assembly.sandbox is None:
            pytest.skip("runsc does not work on this host (see the runner log)")
        try:
            yield runner
        finally:
            await delete_sandboxes(runner)


async def delete_sandboxes(runner: RealRunner) -> None:
    """Sandboxes are the suite's to remove (the shared cleanup knows the container runtime
    only). The agent stops first: otherwise it starts again what was just deleted."""
    runner.task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await runner.task
    sandbox = runner.assembly.sandbox
    for env_id in await sandbox.list() if sandbox is not None else []:
        await sandbox.delete(env_id)


async def create_env(
    plane: PlaneHarness,
    client: httpx.AsyncClient,
    image: str,
    runtime: str,
    klass: str | None = None,
    **spec: Any,
) -> str:
    spec = {"image": image, "class": klass or ("sandbox" if runtime == "sandbox" else "default"),
            **spec}  # fmt: skip
    r = await client.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    await wait_phase(plane, env_id, "running", timeout=120)
    return env_id


async def exec_as(
    client: httpx.AsyncClient, env_id: str, user: str, *argv: str, stdin: bytes = b""
) -> tuple[int, str, str]:
    """``roost env exec`` by hand, as ``user`` inside: a ticket from the plane, a stream to the
    runner."""
    return await exec_stream(client, env_id, {"argv": list(argv), "user": user}, stdin)


async def run_probe(
    client: httpx.AsyncClient, env_id: str, user: str, config: dict[str, Any]
) -> Report:
    code, out, err = await exec_as(client, env_id, user, "python3", "-c", PROBE, json.dumps(config))
    report = parse(out)
    assert report.results, f"the probe reported nothing (exit {code}): {out} {err}"
    return report


async def own_address(client: httpx.AsyncClient, env_id: str, gateway: str) -> str:
    """The environment's address, as it sees it (the source address toward the gateway)."""
    script = (
        "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "s.connect((sys.argv[1], 9)); print(s.getsockname()[0])"
    )
    code, out, err = await exec_as(client, env_id, ROOT, "python3", "-c", script, gateway)
    assert code == 0, err
    return out.strip()


async def serve_in(client: httpx.AsyncClient, env_id: str, port: int) -> None:
    """A listener on every address of the environment, left running in the background."""
    script = (
        "import os,socket,sys,time\n"
        "if os.fork(): sys.exit(0)\n"
        "os.setsid(); n=os.open('/dev/null', os.O_RDWR); [os.dup2(n, fd) for fd in (0, 1, 2)]\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(16)\n"
        "while True: s.accept()[0].close()\n"
    )
    code, _, err = await exec_as(client, env_id, ROOT, "python3", "-c", script, str(port))
    assert code == 0, err
    await asyncio.sleep(0.3)


async def reaches(client: httpx.AsyncClient, env_id: str, host: str, port: int) -> bool:
    """Whether a TCP connection from inside ``env_id`` to ``host:port`` succeeds."""
    script = "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)"
    code, _, _ = await exec_as(client, env_id, ROOT, "python3", "-c", script, host, str(port))
    return code == 0
