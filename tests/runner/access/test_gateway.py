"""The SSH gateway with the stock OpenSSH client, commands run on the host (no root needed):
authentication and refusals, exit codes, streams, environment, terminals, forwarding errors."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest

from roost.core.errors import NotFound, Unavailable
from roost.core.schemas.ssh import SshAuthorize, SshGrant
from roost.runner.access.activity import ActivityTracker
from roost.runner.access.dialer import NetnsDialer
from roost.runner.access.gateway import Gateway, GatewayParts
from tests.runner.access.conftest import KeyPair, SshTarget, keypair, run
from tests.runner.access.hostdriver import HostDriver

ENV = "0123456789abcdefghjk"


@dataclass
class FakePlane:
    good: str
    asked: list[SshAuthorize] = field(default_factory=list)
    down: bool = False
    refuse_login: bool = False

    async def authorize(self, body: SshAuthorize) -> SshGrant:
        self.asked.append(body)
        if self.down:
            raise Unavailable("cannot reach the plane")
        if body.public_key.split()[1] != self.good or body.username != ENV:
            raise NotFound(f"environment {body.username!r} is not one of yours")
        if body.verified and self.refuse_login:
            raise NotFound("gone meanwhile")
        return SshGrant(
            environment_id=ENV,
            environment_name="dev",
            user_id="u",
            user_name="alice",
            fingerprint="SHA256:x",
        )


@dataclass
class World:
    plane: FakePlane
    target: SshTarget
    key: KeyPair
    driver: HostDriver
    activity: ActivityTracker

    def ssh(self, *extra: str, key: KeyPair | None = None, user: str = ENV) -> list[str]:
        return self.target.argv(key or self.key, user, *extra)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    key = keypair(tmp_path, "alice")
    plane = FakePlane(key.public.split()[1])
    home = tmp_path / "home"
    home.mkdir()
    driver = HostDriver(home)
    driver.add(ENV)
    activity = ActivityTracker()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    dialer = NetnsDialer(lambda env_id: tmp_path / "no-netns")
    gateway = Gateway(GatewayParts(driver, plane.authorize, dialer, activity), host_key)  # type: ignore[arg-type]
    await gateway.start("127.0.0.1", 0)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{gateway.port} {host_key.export_public_key().decode()}")
    try:
        yield World(plane, SshTarget(gateway.port, known), key, driver, activity)
    finally:
        await gateway.stop()
        dialer.close()


async def test_commands_streams_and_exit_codes(world: World) -> None:
    assert (await run(world.ssh("true")))[0] == 0
    assert (await run(world.ssh("exit 42")))[0] == 42
    code, out, err = await run(world.ssh("tr a-z A-Z; echo err >&2"), b"hello")
    assert (code, out, err) == (0, "HELLO", "err\n")
    code, out, _ = await run(world.ssh("-o", "SetEnv=LANG=C.UTF-8 BAD-NAME=x", "env"))
    assert "LANG=C.UTF-8" in out.splitlines() and "BAD-NAME=x" not in out
    assert any(line.startswith("SSH_CONNECTION=127.0.0.1 ") for line in out.splitlines())
    [offer, login, *_] = world.plane.asked
    assert (offer.verified, login.verified) == (False, True)
    assert ENV in world.activity.take()[0].seconds_ago


async def test_a_terminal_when_asked(world: World) -> None:
    code, out, _ = await run(world.ssh("-tt", "tty; echo $TERM; stty size"))
    assert code == 0
    tty, term, rows, cols = out.split()
    request = world.driver.requests[-1]
    assert tty.startswith("/dev/pts/") and request.tty
    assert term == request.env["TERM"]
    assert (int(rows), int(cols)) == (request.rows, request.cols)


async def test_refusals_are_banners_not_hangs(world: World, tmp_path: Path) -> None:
    stranger = keypair(tmp_path, "stranger")
    code, _, err = await run(world.ssh("true", key=stranger))
    assert code == 255
    assert "roost: environment '0123456789abcdefghjk' is not one of yours" in err
    code, _, err = await run(world.ssh("true", user="someone-else"))
    assert code == 255 and "'someone-else' is not one of yours" in err
    world.plane.down = True
    code, _, err = await run(world.ssh("true"))
    assert code == 255 and "the Roost plane is unreachable" in err


async def test_a_login_withdrawn_after_the_key_check_opens_no_session(world: World) -> None:
    world.plane.refuse_login = True
    code, _, err = await run(world.ssh("true"))
    assert code == 255 and "no longer allowed" in err


async def test_a_stopped_environment_says_so(world: World) -> None:
    world.driver.running.clear()
    code, _, err = await run(world.ssh("true"))
    assert code == 1 and "is not running" in err


async def test_forwarding_failures_are_reported_to_the_client(world: World) -> None:
    proc = await asyncio.create_subprocess_exec(
        *world.ssh("-N", "-W", "localhost:8000"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(b""), 30)
    assert b"cannot connect to localhost:8000 inside the environment" in err
    assert b"has no network; is it running?" in err
