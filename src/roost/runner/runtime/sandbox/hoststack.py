"""Silencing the host's network stack in a sandbox's network namespace.

With ``--network=sandbox`` gVisor runs its own TCP/IP stack: at start, runsc takes ``eth0``'s
addresses and routes out of the netns the runner made, and the Sentry sends and receives raw
frames on ``eth0`` itself. The host kernel's stack in that netns must then keep quiet -- if the
address came back (the runner's network repair puts it back whenever it re-adopts the
environment), the host kernel would answer the environment's own TCP traffic with resets.

So, once the sandbox has started, the driver loads a table into the environment's netns that
drops everything the *host kernel* receives or sends there. gVisor's frames do not pass those
hooks (packet sockets sit below IP, and send straight to the device), so the environment's
network works, and whatever the address configuration, the netns's own stack stays mute. The
table belongs to the host user namespace like the netns; nothing in the sandbox can reach it.
"""

import asyncio
from pathlib import Path

from roost.runner.runtime.base import RuntimeFailure

TABLE = "roost_sandbox"
RULESET = f"""table inet {TABLE} {{}}
delete table inet {TABLE}
table inet {TABLE} {{
    chain input {{ type filter hook input priority -400; policy drop; }}
    chain output {{ type filter hook output priority -400; policy drop; }}
}}
table arp {TABLE} {{}}
delete table arp {TABLE}
table arp {TABLE} {{
    chain input {{ type filter hook input priority 0; policy drop; }}
    chain output {{ type filter hook output priority 0; policy drop; }}
}}
"""


async def mute(netns: Path) -> None:
    """Load the table into ``netns`` (idempotent: it is replaced whole)."""
    proc = await asyncio.create_subprocess_exec(
        "nsenter", f"--net={netns}", "nft", "-f", "-",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(RULESET.encode()), 30)
    if proc.returncode != 0:
        raise RuntimeFailure(f"silencing the host stack in {netns}: {err.decode().strip()}")
