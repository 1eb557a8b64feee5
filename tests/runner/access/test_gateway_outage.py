"""The SSH gateway during a plane outage: a plane that does not answer (paused) is reported
unreachable within seconds in a banner the OpenSSH client prints, instead of a silent hang
for the 75 s read timeout."""

import time
from pathlib import Path

import asyncssh

from roost.core.schemas.ssh import SshAuthorize, SshGrant
from roost.runner.access.activity import ActivityTracker
from roost.runner.access.dialer import NetnsDialer
from roost.runner.access.gateway import Gateway, GatewayParts
from roost.runner.client import PlaneClient
from tests.runner.access.conftest import SshTarget, keypair, run
from tests.runner.access.hostdriver import HostDriver
from tests.support.blackhole import silent_plane

ENV = "0123456789abcdefghjk"


async def test_a_silent_plane_is_a_quick_banner(tmp_path: Path) -> None:
    key = keypair(tmp_path, "alice")
    (tmp_path / "home").mkdir()
    driver = HostDriver(tmp_path / "home")
    driver.add(ENV)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    dialer = NetnsDialer(lambda env_id: tmp_path / "no-netns")
    with silent_plane() as url:
        client = PlaneClient(url, "roost_x")

        async def authorize(body: SshAuthorize) -> SshGrant:
            return await client.ssh_authorize("runner", body)

        gateway = Gateway(GatewayParts(driver, authorize, dialer, ActivityTracker()), host_key)  # type: ignore[arg-type]
        await gateway.start("127.0.0.1", 0)
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{gateway.port} {host_key.export_public_key().decode()}")
        try:
            started = time.monotonic()
            code, _, err = await run(SshTarget(gateway.port, known).argv(key, ENV, "true"))
            took = time.monotonic() - started
        finally:
            await gateway.stop()
            dialer.close()
            await client.close()
    assert code == 255 and "the Roost plane is unreachable" in err
    assert took < 15, took
