"""Address allocation (IPAM) for environments: one file per address, no database.

An allocation is the file ``<state_dir>/addresses/<ip>`` holding the environment id. It is
created atomically *with* its content: the id is written to a private temporary file, which is
then hard-linked to the address's name. ``link(2)`` fails with ``EEXIST`` if the name is taken,
so two processes (or threads) can never claim one address, and a crash never leaves an empty
claim behind -- at worst a stray temporary file, which is swept on load.

The files are the truth; the pool keeps an index (environment -> address) in memory, read once
on first use. So the pool belongs to one runner process: a second process on the same directory
is still safe from double-claiming an address, but will not see the first one's new claims in
``lookup``. The lowest free address is handed out, so a released address is reused; the bridge
relearns the new owner's MAC from its first ARP request.

Network, gateway and broadcast addresses are never handed out.
"""

import ipaddress
import os
import threading
from pathlib import Path

from roost.runner.network.model import NetworkError, check_env_id

_TMP_PREFIX = ".claim-"


class AddressPool:
    """Allocates the addresses of one subnet to environment ids; thread-safe."""

    def __init__(self, subnet: ipaddress.IPv4Network, state_dir: Path) -> None:
        self.subnet = subnet
        self.dir = state_dir / "addresses"
        self._lock = threading.Lock()
        self._index: dict[str, ipaddress.IPv4Address] | None = None

    def allocate(self, env_id: str) -> ipaddress.IPv4Address:
        """The address of ``env_id``: its existing one, or the lowest free one (now claimed)."""
        check_env_id(env_id)
        with self._lock:
            index = self._load()
            if env_id in index:
                return index[env_id]
            taken = {int(a) for a in index.values()}
            for number in self._candidates():
                address = ipaddress.IPv4Address(number)
                if number not in taken and self._claim(address, env_id):
                    index[env_id] = address
                    return address
        raise NetworkError(
            f"no free address left in {self.subnet} for environment {env_id}: delete unused "
            "environments or give the runner a larger subnet",
            code="network_exhausted",
        )

    def lookup(self, env_id: str) -> ipaddress.IPv4Address | None:
        with self._lock:
            return self._load().get(env_id)

    def release(self, env_id: str) -> None:
        """Forget ``env_id``'s address (idempotent)."""
        with self._lock:
            address = self._load().pop(env_id, None)
            if address is not None:
                (self.dir / str(address)).unlink(missing_ok=True)

    def allocations(self) -> dict[str, ipaddress.IPv4Address]:
        with self._lock:
            return dict(self._load())

    def _candidates(self) -> range:
        first = int(self.subnet.network_address) + 2  # +1 is the gateway
        return range(first, int(self.subnet.broadcast_address))

    def _claim(self, address: ipaddress.IPv4Address, env_id: str) -> bool:
        tmp = self.dir / f"{_TMP_PREFIX}{os.getpid()}-{env_id}"
        tmp.write_text(env_id)
        try:
            os.link(tmp, self.dir / str(address))
        except FileExistsError:
            return False  # another process holds it; our index could not know
        finally:
            tmp.unlink()
        return True

    def _load(self) -> dict[str, ipaddress.IPv4Address]:
        if self._index is None:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            claims: list[tuple[ipaddress.IPv4Address, Path]] = []
            for path in self.dir.iterdir():
                if path.name.startswith(_TMP_PREFIX):
                    _sweep(path)
                elif (address := _parse(path.name)) is not None and address in self.subnet:
                    claims.append((address, path))
            index: dict[str, ipaddress.IPv4Address] = {}
            for address, path in sorted(claims, reverse=True):  # the lowest wins a duplicate
                if owner := path.read_text().strip():
                    index[owner] = address
            self._index = index
        return self._index


def _parse(name: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(name)
    except ValueError:
        return None


def _sweep(tmp: Path) -> None:
    """Remove a temporary claim file left by a process that died mid-claim."""
    pid = tmp.name.removeprefix(_TMP_PREFIX).split("-", 1)[0]
    if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
        tmp.unlink(missing_ok=True)
