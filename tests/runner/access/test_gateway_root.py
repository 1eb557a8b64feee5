"""The SSH gateway with the stock OpenSSH client against real environments (root)."""

import asyncio
import fcntl
import os
import pty
import signal
import struct
import termios
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from roost.runner.images import Image
from tests.runner.access.conftest import (
    KeyPair,
    SshTarget,
    add_key,
    create_env,
    keypair,
    run,
    ssh_target,
)
from tests.support.live import free_port
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, wait_phase

pytestmark = pytest.mark.root


@dataclass
class Setup:
    plane: PlaneHarness
    target: SshTarget
    key: KeyPair
    env_id: str
    tmp: Path

    def ssh(self, *extra: str) -> list[str]:
        return self.target.argv(self.key, self.env_id, *extra)


@pytest.fixture
async def setup(
    plane: PlaneHarness, ssh_runner: RealRunner, tmp_path: Path, debian_base: Image
) -> Setup:
    alice = await plane.user("alice")
    key = keypair(tmp_path, "alice")
    await add_key(alice, key)
    env_id = await create_env(plane, alice, debian_base.ref)
    target = await ssh_target(plane, ssh_runner, tmp_path)
    return Setup(plane, target, key, env_id, tmp_path)


async def test_commands_exit_codes_and_environment(setup: Setup) -> None:
    assert (await run(setup.ssh("true")))[0] == 0
    code, out, err = await run(setup.ssh("echo $0 $HOME $USER; id -un; pwd; exit 7"))
    assert code == 7, err
    assert out.split() == ["/bin/bash", "/root", "root", "root", "/workspaces/workspace"]
    code, out, err = await run(setup.ssh("cat; echo oops >&2"), b"piped")
    assert (code, out, err) == (0, "piped", "oops\n")
    code, out, _ = await run(setup.ssh("-o", "SetEnv=GREETING=hello", "echo $GREETING"))
    assert (code, out) == (0, "hello\n")
    code, out, _ = await run(setup.ssh("echo $SSH_CONNECTION"))
    assert out.split()[0] == "127.0.0.1"


async def test_login_is_audited(setup: Setup) -> None:
    await run(setup.ssh("true"))
    events = (await setup.plane.admin.get("/api/v1/audit")).json()["items"]
    logins = [e for e in events if e["action"] == "environment.ssh_login"]
    assert logins and logins[-1]["outcome"] == "allowed"
    assert logins[-1]["target_id"] == setup.env_id


class Terminal:
    """The stock ``ssh -tt`` on a real pseudo-terminal that this test types into."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.master, self.slave = pty.openpty()
        self.resize(40, 120)
        self.buffer = b""
        self.proc: asyncio.subprocess.Process | None = None

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "setsid", "-c", *self.argv, stdin=self.slave, stdout=self.slave, stderr=self.slave
        )
        os.close(self.slave)
        os.set_blocking(self.master, False)

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    async def expect(self, needle: str, timeout: float = 20) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while needle.encode() not in self.buffer:
            assert asyncio.get_running_loop().time() < deadline, self.buffer.decode(
                errors="replace"
            )
            try:
                self.buffer += os.read(self.master, 65536)
            except BlockingIOError:
                await asyncio.sleep(0.02)
            except OSError:
                break
        before, _, self.buffer = self.buffer.partition(needle.encode())
        return before.decode(errors="replace")

    async def close(self) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), 20)
        os.close(self.master)
        return code


async def test_interactive_terminal(setup: Setup) -> None:
    term = Terminal(setup.ssh("-tt"))
    await term.start()
    term.send("stty size; echo DONE$((1+1))\r")
    assert (await term.expect("DONE2")).split()[-2:] == ["40", "120"]
    term.resize(30, 100)
    await asyncio.sleep(0.3)  # SIGWINCH reaches ssh, which sends window-change
    term.send("stty size; echo DONE$((2+1))\r")
    assert (await term.expect("DONE3")).split()[-2:] == ["30", "100"]
    term.send("tty; echo $TERM; echo DONE$((3+1))\r")
    tty_out = (await term.expect("DONE4")).split()
    assert "/dev/pts/0" in tty_out
    term.send("sleep 100\r")
    await asyncio.sleep(0.5)
    term.send("\x03")  # ^C interrupts the foreground command, not the session
    term.send("echo status=$?; echo DONE$((4+1))\r")
    assert "status=130" in await term.expect("DONE5")
    term.send("exit 5\r")
    assert await term.close() == 5


async def test_scp_both_ways_and_sftp(setup: Setup) -> None:
    local = setup.tmp / "upload.bin"
    local.write_bytes(os.urandom(300_000))
    remote = f"{setup.env_id}@127.0.0.1"
    scp = setup.target.argv(setup.key, "", str(local), f"{remote}:/root/up.bin", tool="scp")
    code, _, err = await run(scp)
    assert code == 0, err
    code, out, _ = await run(setup.ssh("sha256sum /root/up.bin"))
    import hashlib

    assert out.split()[0] == hashlib.sha256(local.read_bytes()).hexdigest()
    back = setup.tmp / "down.bin"
    scp = setup.target.argv(setup.key, "", f"{remote}:/root/up.bin", str(back), tool="scp")
    code, _, err = await run(scp)
    assert code == 0, err
    assert back.read_bytes() == local.read_bytes()

    batch = setup.tmp / "batch"
    batch.write_text(
        f"mkdir /tmp/viasftp\nput {local} /tmp/viasftp/f\nls -l /tmp/viasftp\n"
        "rename /tmp/viasftp/f /tmp/viasftp/g\n"
    )
    sftp = setup.target.argv(setup.key, "", "-b", str(batch), remote, tool="sftp")
    code, out, err = await run(sftp)
    assert code == 0, err
    code, out, _ = await run(setup.ssh("stat -c %s /tmp/viasftp/g"))
    assert out.strip() == str(len(local.read_bytes()))


async def test_sftp_paths_resolve_inside_the_environment(setup: Setup) -> None:
    """A symlink in the environment pointing at a host path gives the environment's file."""
    await run(setup.ssh("echo inside > /tmp/marker; ln -s /etc/hostname /root/link"))
    batch = setup.tmp / "batch"
    batch.write_text(f"get /root/link {setup.tmp / 'got'}\n")
    code, _, err = await run(
        setup.target.argv(setup.key, "", "-b", str(batch), f"{setup.env_id}@127.0.0.1", tool="sftp")
    )
    assert code == 0, err
    env_doc = (await setup.plane.admin.get(f"/api/v1/environments/{setup.env_id}")).json()
    assert (setup.tmp / "got").read_text().strip() == env_doc["metadata"]["name"]


async def test_local_forwarding_reaches_the_environments_loopback(setup: Setup) -> None:
    start = "cd /tmp; python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 </dev/null &"
    assert (await run(setup.ssh(start)))[0] == 0
    local = free_port()
    forward = await asyncio.create_subprocess_exec(
        *setup.ssh("-N", "-L", f"127.0.0.1:{local}:localhost:8000"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            try:
                async with httpx.AsyncClient() as http:
                    r = await http.get(f"http://127.0.0.1:{local}/")
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)
        assert "Directory listing" in r.text
    finally:
        forward.send_signal(signal.SIGTERM)
        await forward.wait()


async def test_agent_forwarding(setup: Setup) -> None:
    sock = setup.tmp / "agent.sock"
    agent = await asyncio.create_subprocess_exec(
        "ssh-agent", "-D", "-a", str(sock), stdout=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if sock.exists():
                break
            await asyncio.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        added = await asyncio.create_subprocess_exec(
            "ssh-add", "-q", str(setup.key.private), env=env
        )
        assert await added.wait() == 0
        proc = await asyncio.create_subprocess_exec(
            *setup.ssh("-A", "echo $SSH_AUTH_SOCK; ssh-add -l"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err
        path, listing = out.decode().split("\n", 1)
        assert path.startswith("/run/roost-agent-")
        assert "alice (ED25519)" in listing
        _, out, _ = await run(setup.ssh(f"test -e {path} && echo left || echo gone"))
        assert out.strip() == "gone"  # removed with the session
    finally:
        agent.terminate()
        await agent.wait()


async def test_refusals_say_why(setup: Setup) -> None:
    stranger = keypair(setup.tmp, "stranger")
    code, _, err = await run(setup.target.argv(stranger, setup.env_id, "true"))
    assert code == 255
    assert "not registered with Roost" in err and "Permission denied" in err

    bob = await setup.plane.user("bob")
    bob_key = keypair(setup.tmp, "bob")
    await add_key(bob, bob_key)
    code, _, err = await run(setup.target.argv(bob_key, setup.env_id, "true"))
    assert code == 255 and "not one of yours" in err

    await setup.plane.admin.post(f"/api/v1/environments/{setup.env_id}/stop")
    await wait_phase(setup.plane, setup.env_id, "stopped")
    code, _, err = await run(setup.ssh("true"))
    assert code == 255 and "stopped, not running" in err and "roost env start" in err

    events = (await setup.plane.admin.get("/api/v1/audit")).json()["items"]
    denied = [
        e for e in events if e["action"] == "environment.ssh_login" and e["outcome"] == "denied"
    ]
    assert len(denied) >= 3
