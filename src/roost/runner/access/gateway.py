"""The SSH gateway (asyncssh): ``ssh -p 2222 <environment-id>@<runner>`` lands in the environment.

Works with the stock OpenSSH client and everything built on it (``scp``, ``sftp``, VS Code
Remote-SSH): shells with a pty, commands with their exit status, environment variables,
``ssh -L`` into the environment, SFTP, agent forwarding. No program in the image is ours.

**Authentication** is public-key only, and the plane decides: for each key the client offers,
the gateway asks ``POST /runners/{id}/ssh/authorize`` whether that key may enter that
environment (only keys its owner registered with ``roost ssh-key add`` may, and only while the
environment runs here). A refusal is shown to the client as an authentication banner -- "this
SSH key is not registered...", "environment X is stopped; start it with ..." -- before the usual
"Permission denied", so a user knows what to do; it never hangs. Once the client has proven it
holds the key, the gateway asks again with ``verified`` set: that is the login the plane audits.
Answers are kept for the connection only.

**Nothing before proof**: public keys are public (key servers, forges), so the plane is asked
only once the client has signed with the key. A key *query* (OpenSSH offers a key before
signing) gets the same "yes, sign with it" for every key and every user name, and a signature
that does not verify gets a plain failure; neither reaches the plane nor shows a banner. So a
stranger holding someone's public key learns neither whether it is registered nor which
environments are its owner's. (asyncssh asks the server object about a key before checking a
signature, so the gateway takes over the connection's key check: :meth:`Connection._check_key`.)

**Channels**: sessions (``sshsession.py``); ``direct-tcpip`` (``ssh -L``) opens a socket inside
the environment's netns (``dialer.py``), so ``localhost`` there means the environment's own
loopback; agent forwarding (``agentfwd.py``). Remote forwarding (``ssh -R``), X11 and
``tun`` are refused: nothing should listen on the runner host on an environment's behalf.

The host key (``hostkey.py``) is one per runner and survives restarts.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncssh
from asyncssh.forward import SSHForwarder
from asyncssh.packet import String
from asyncssh.public_key import decode_ssh_public_key

from roost.core.errors import RoostError
from roost.core.schemas.ssh import SshAuthorize, SshGrant
from roost.runner.access.activity import ActivityTracker
from roost.runner.access.agentfwd import AgentSocket, open_agent
from roost.runner.access.dialer import NetnsDialer
from roost.runner.access.sshsession import EnvSession, SessionContext
from roost.runner.runtime.base import RuntimeDriver

log = logging.getLogger(__name__)
Authorize = Callable[[SshAuthorize], Awaitable[SshGrant]]
AGENT_SETUP_TURNS = 10


@dataclass
class GatewayParts:
    driver: RuntimeDriver
    authorize: Authorize
    dialer: NetnsDialer
    activity: ActivityTracker
    session_user: Callable[[str], tuple[int, int]] = lambda env_id: (0, 0)
    """uid and gid inside an environment that its sessions run as (a forwarded agent's owner)."""


class Gateway:
    def __init__(self, parts: GatewayParts, host_key: asyncssh.SSHKey) -> None:
        self.parts = parts
        self.host_key = host_key
        self.server: asyncssh.SSHAcceptor | None = None

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncssh.create_server(
            lambda: Connection(self.parts), host, port,
            server_host_keys=[self.host_key], server_version="Roost",
            encoding=None, line_editor=False, agent_forwarding=True,
            x11_forwarding=False, allow_scp=False, login_timeout=60,
            keepalive_interval=60, keepalive_count_max=3,
        )  # fmt: skip

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1]) if self.server else 0

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class Connection(asyncssh.SSHServer):
    """One client connection: its authentication, then its channels."""

    def __init__(self, parts: GatewayParts) -> None:
        self.parts = parts
        self.conn: Any = None
        self.client = ""
        self.grants: dict[tuple[str, str], SshGrant] = {}
        self.offered: tuple[str, str] | None = None
        """(user name, fingerprint) of the key last accepted: the one the client signs with."""
        self.key_lines: dict[tuple[str, str], str] = {}
        self.grant: SshGrant | None = None
        self.banners: set[str] = set()
        self.agent: AgentSocket | None = None
        self.agent_lock = asyncio.Lock()
        self.logged_in = asyncio.Event()
        """Set once the login was decided: asyncssh may deliver the client's first channel
        request while :meth:`auth_completed` still waits for the plane."""

    def connection_made(self, conn: Any) -> None:
        self.conn = conn
        conn.validate_public_key = self._check_key  # see "Nothing before proof" above
        peer = conn.get_extra_info("peername") or ("", 0)
        self.client = f"{peer[0]}:{peer[1]}"

    def connection_lost(self, exc: Exception | None) -> None:
        if self.agent is not None:
            self.agent.close()
            self.agent = None

    def begin_auth(self, username: str) -> bool:
        return True  # always authenticate

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def _check_key(
        self, username: str, key_data: bytes, msg: bytes, signature: bytes
    ) -> bool:
        """The connection's public-key check: the plane decides, but only after the proof."""
        try:
            key = decode_ssh_public_key(key_data)
        except (asyncssh.KeyImportError, ValueError):
            return False
        if not msg:
            return True  # a query: the same answer for every key, so it reveals nothing
        session_id = self.conn._session_id
        if not key.verify(String(session_id) + msg, signature):
            return False
        return await self.validate_public_key(username, key)

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        line = key.export_public_key("openssh").decode().strip()
        cache_key = (username, str(key.get_fingerprint("sha256")))
        if cache_key not in self.grants:
            try:
                self.grants[cache_key] = await self._ask(username, line, verified=False)
            except RoostError as exc:
                self._banner(exc.message if exc.code != "unavailable" else (
                    "cannot check your key right now (the Roost plane is unreachable); "
                    "try again in a moment"))  # fmt: skip
                return False
        self.offered = cache_key
        self.key_lines[cache_key] = line
        return True

    async def auth_completed(self) -> None:
        """The client proved it holds the key: ask once more, as a login (audited)."""
        try:
            if self.offered is not None:
                await self._login(self.offered)
        finally:
            self.logged_in.set()

    async def _login(self, offered: tuple[str, str]) -> None:
        try:
            self.grant = await self._ask(offered[0], self.key_lines[offered], verified=True)
        except RoostError as exc:
            log.info("ssh login to %s refused after authentication: %s", offered[0], exc.message)
            return
        log.info("ssh login: %s to %s from %s", self.grant.user_name,
                 self.grant.environment_id, self.client)  # fmt: skip

    async def _granted(self) -> SshGrant:
        await self.logged_in.wait()
        if self.grant is None:
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
                "this login is no longer allowed (is the environment still running?)",
            )
        return self.grant

    async def _ask(self, username: str, key_line: str, *, verified: bool) -> SshGrant:
        body = SshAuthorize(username=username, public_key=key_line,
                            client_address=self.client, verified=verified)  # fmt: skip
        return await self.parts.authorize(body)

    def _banner(self, message: str) -> None:
        if message in self.banners:
            return
        self.banners.add(message)
        with contextlib.suppress(OSError):
            self.conn.send_auth_banner(f"roost: {message}\r\n")

    # -- channels ---------------------------------------------------------------------------

    def session_requested(self) -> Any:
        return self._session()

    async def _session(self) -> EnvSession:
        ctx = SessionContext(
            driver=self.parts.driver, grant=await self._granted(), activity=self.parts.activity,
            agent_path=self._agent_path, connection_env=self._connection_env(),
        )  # fmt: skip
        return EnvSession(ctx)

    def _connection_env(self) -> dict[str, str]:
        peer = self.conn.get_extra_info("peername") or ("", 0)
        local = self.conn.get_extra_info("sockname") or ("", 0)
        return {"SSH_CONNECTION": f"{peer[0]} {peer[1]} {local[0]} {local[1]}",
                "SSH_CLIENT": f"{peer[0]} {peer[1]} {local[1]}"}  # fmt: skip

    async def _agent_path(self) -> str | None:
        """The environment-side agent socket, made on first use when the client forwards.

        OpenSSH asks for agent forwarding before it asks for the shell, but asyncssh sets its
        side up in a task of its own: give that task a few turns of the loop to finish.
        """
        for _ in range(AGENT_SETUP_TURNS):
            if self.conn.get_agent_path() is not None:
                break
            await asyncio.sleep(0)
        if self.grant is None or self.conn.get_agent_path() is None:
            return None
        async with self.agent_lock:
            if self.agent is None:
                inspection = await self.parts.driver.inspect(self.grant.environment_id)
                if inspection.pid is None:
                    return None
                user = self.parts.session_user(self.grant.environment_id)
                self.agent = await open_agent(inspection.pid, self.conn, user)
        return self.agent.path if self.agent else None

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> Any:
        """``ssh -L``: connect from inside the environment's netns."""
        return self._forward(dest_host, dest_port)

    async def _forward(self, host: str, port: int) -> SSHForwarder:
        env_id = (await self._granted()).environment_id
        try:
            sock = await self.parts.dialer.connect(env_id, host, port)
        except OSError as exc:
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_CONNECT_FAILED,
                f"cannot connect to {host}:{port} inside the environment: {exc.strerror or exc}",
            ) from None
        self.parts.activity.touch(env_id)
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_connection(SSHForwarder, sock=sock)
        return _Forwarder(peer, lambda: self.parts.activity.touch(env_id))

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False  # ssh -R would listen on the runner host: not offered


class _Forwarder(SSHForwarder):
    """asyncssh's forwarder, counting the client's data as activity."""

    def __init__(self, peer: SSHForwarder, touch: Callable[[], None]) -> None:
        super().__init__(peer)
        self._touch = touch

    def data_received(self, data: bytes, datatype: Any = None) -> None:
        self._touch()
        super().data_received(data, datatype)
