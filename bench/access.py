"""bench/access.py -- what does reaching an environment through its runner cost?

* SSH: ``ssh env true`` round trips (a new connection each: key exchange, authentication -- two
  questions to the plane -- a session, ``crun exec``, exit status) through the gateway, beside
  ``ssh localhost true`` to a host sshd this benchmark starts on a free port in the same run.
  Target (issue 5): gateway p50 <= 1.5x sshd p50.
* Proxy: request p50 of a small file and download throughput of a large one from a server
  inside the environment, through the proxy (host form, public port) and directly (the
  environment's bridge address, from the host), on kept-alive connections.

Run as root from the repository root: ``.venv/bin/python -m bench.access [--count N]``.
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support.images import CACHE_DIR, _cached_base
from tests.support.live import free_port

from bench.stack import Stack, stack, summary, write

BIG_MIB = 256


def keypair(work: Path) -> Path:
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def ssh_argv(key: Path, port: int, user: str, *cmd: str) -> list[str]:
    return [
        "ssh", "-F", "/dev/null", "-p", str(port), "-i", str(key), "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"{user}@127.0.0.1", *cmd,
    ]  # fmt: skip


def round_trips(argv: list[str], count: int) -> list[float]:
    times = []
    for i in range(count + 3):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True)
        if i >= 3:  # warm-up
            times.append(time.perf_counter() - t0)
    return times


class HostSshd:
    """``/usr/sbin/sshd -D`` on a free loopback port with its own key and authorized_keys."""

    def __init__(self, work: Path, key: Path) -> None:
        self.dir = work / "sshd"
        self.dir.mkdir()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(self.dir / "host_key")], check=True)  # fmt: skip
        (self.dir / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
        self.port = free_port()
        (self.dir / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nHostKey {self.dir / 'host_key'}\n"
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\nPidFile none\nUsePAM no\n"
            "StrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # its privilege separation directory
        self.proc = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.dir / "sshd_config"),
             "-p", str(self.port)],
            stderr=(self.dir / "log").open("wb"),
        )  # fmt: skip

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def environment(s: Stack, key: Path) -> tuple[str, int]:
    """A running default-image environment, the caller's key registered; and the gateway port."""
    s.admin.post("/api/v1/ssh-keys", json={"public_key": key.with_suffix(".pub").read_text()})
    since = s.version()
    env_id = s.create()
    s.wait_phase(env_id, "running", since, timeout=300)
    runner = s.admin.get("/api/v1/runners").json()["items"][0]
    return env_id, int(runner["ssh_address"].rsplit(":", 1)[1])


def serve_files(key: Path, ssh_port: int, env_id: str) -> str:
    """A small and a large file behind ``python3 -m http.server`` on every address inside the
    environment; returns the environment's address."""
    script = (
        f"mkdir -p /srv && cd /srv && echo hello > small && head -c {BIG_MIB}M /dev/zero > big"
        " && (python3 -m http.server 8000 >/dev/null 2>&1 </dev/null &)"
        " && ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"
    )
    out = subprocess.run(ssh_argv(key, ssh_port, env_id, script), check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return out.strip()


def open_public(s: Stack, env_id: str, port: int) -> None:
    doc = s.admin.get(f"/api/v1/environments/{env_id}").json()
    spec = {**doc["spec"], "ports": [{"port": port, "admission": "public"}]}
    s.admin.put(f"/api/v1/environments/{env_id}/spec", json={"spec": spec}).raise_for_status()


def http_numbers(base: str, headers: dict[str, str], count: int) -> dict[str, Any]:
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        deadline = time.monotonic() + 30
        while http.get("/small").status_code != 200:
            assert time.monotonic() < deadline, "the server did not answer"
            time.sleep(0.2)
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            http.get("/small").raise_for_status()
            times.append(time.perf_counter() - t0)
        rates = []
        for _ in range(3):
            t0 = time.perf_counter()
            size = 0
            with http.stream("GET", "/big") as r:
                for chunk in r.iter_raw(1 << 20):
                    size += len(chunk)
            rates.append(size / (1 << 20) / (time.perf_counter() - t0))
    return {**summary(times), "throughput_mib_s": round(statistics.median(rates), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=30)
    args = parser.parse_args()
    image = _cached_base()
    results: dict[str, Any] = {"image": image.ref, "count": args.count}
    with tempfile.TemporaryDirectory(prefix="roost-bench-access-") as tmp:
        work = Path(tmp)
        key = keypair(work)
        sshd = HostSshd(work, key)
        try:
            gateway_port = free_port()
            with stack(work, images_dir=CACHE_DIR / "images",
                       runner_args=("--ssh-listen", f"127.0.0.1:{gateway_port}")) as s:  # fmt: skip
                env_id, port = environment(s, key)
                results["ssh_gateway"] = summary(round_trips(ssh_argv(key, port, env_id, "true"),
                                                             args.count))  # fmt: skip
                results["ssh_host_sshd"] = summary(
                    round_trips(ssh_argv(key, sshd.port, "root", "true"), args.count)
                )
                address = serve_files(key, port, env_id)
                open_public(s, env_id, 8000)
                runner = s.admin.get("/api/v1/runners").json()["items"][0]
                access = runner["access_url"].rstrip("/")
                proxy_host = {"Host": f"8000-{env_id}.localhost:{access.rsplit(':', 1)[1]}"}
                time.sleep(1)  # the runner applies the port
                results["proxy"] = http_numbers(access, proxy_host, args.count * 10)
                results["direct"] = http_numbers(f"http://{address}:8000", {}, args.count * 10)
        finally:
            sshd.stop()
    report(results)


def report(results: dict[str, Any]) -> None:
    ratio = results["ssh_gateway"]["p50_ms"] / results["ssh_host_sshd"]["p50_ms"]
    results["ssh_ratio_p50"] = round(ratio, 2)
    results["target_ssh_ratio"] = 1.5
    results["meets_target"] = ratio <= 1.5
    print(f"{'':28}{'p50 ms':>10}{'p99 ms':>10}{'MiB/s':>10}")
    for label, key in (("ssh env true (gateway)", "ssh_gateway"),
                       ("ssh localhost true (sshd)", "ssh_host_sshd"),
                       ("proxy GET /small", "proxy"), ("direct GET /small", "direct")):  # fmt: skip
        row = results[key]
        print(f"{label:28}{row['p50_ms']:>10}{row['p99_ms']:>10}"
              f"{row.get('throughput_mib_s', ''):>10}")  # fmt: skip
    print(f"gateway/sshd p50: {ratio:.2f}x (target <= 1.5x)")
    print(f"wrote {write('access', results)}")


if __name__ == "__main__":
    os.environ.setdefault("ROOST_LOG_LEVEL", "WARNING")
    main()
