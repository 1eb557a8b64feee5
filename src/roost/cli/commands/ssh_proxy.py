"""``roost env ssh-proxy ENV``: the ``ProxyCommand`` of ``roost config-ssh``'s entries for
stopped environments. Starts the environment if it is not running, waits for it, then relays
stdin/stdout to its runner's SSH gateway -- so ``ssh dev.roost`` works whatever state ``dev``
was left in, and on whichever runner it starts."""

import os
import selectors
import socket
import sys

import click

from roost.cli.commands.env import _wait, env
from roost.cli.commands.ssh import gateway
from roost.cli.context import client
from roost.cli.envref import ENV

START_TIMEOUT_S = 600.0
CHUNK = 65536


@env.command("ssh-proxy", hidden=True)
@click.argument("env_id", type=ENV, metavar="ENV")
def ssh_proxy(env_id: str) -> None:
    """Start ENV if needed and relay stdin/stdout to its SSH gateway (a ProxyCommand)."""
    api = client()
    doc = api.get(f"/environments/{env_id}")
    if doc["status"]["phase"] != "running":
        click.echo(f"roost: starting {doc['metadata']['name']}...", err=True)
        api.post(f"/environments/{env_id}/start")
        doc = _wait(api, env_id, "running", START_TIMEOUT_S) or doc
    _, host, port = gateway(api, doc)
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.settimeout(None)
        _relay(conn)


def _relay(conn: socket.socket) -> None:
    stdin, stdout = sys.stdin.buffer.fileno(), sys.stdout.buffer.fileno()
    sel = selectors.DefaultSelector()
    sel.register(stdin, selectors.EVENT_READ, "in")
    sel.register(conn, selectors.EVENT_READ, "net")
    while True:
        for key, _ in sel.select():
            if key.data == "in":
                data = os.read(stdin, CHUNK)
                if not data:
                    conn.shutdown(socket.SHUT_WR)
                    sel.unregister(stdin)
                    continue
                conn.sendall(data)
            else:
                data = conn.recv(CHUNK)
                if not data:
                    return
                os.write(stdout, data)
