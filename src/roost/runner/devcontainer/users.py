"""The remote user inside an environment: who it is, and the environment its processes get.

The image's own ``/etc/passwd`` and ``/etc/group`` decide (read with ``cat`` through the
runtime, as root inside: no host-side path resolution into the environment's files). Numeric
forms (``1000`` or ``1000:1000``) are taken as they are.

Every process of the user's -- lifecycle hooks, ``roost env exec``, automations, SSH sessions --
gets what a login gives (:func:`session_env`): ``HOME``, ``USER``, ``LOGNAME`` and ``SHELL``
from the passwd entry, plus what the devcontainer's ``userEnvProbe`` finds (the variables the
user's shell startup files set or change: ``PATH`` additions, ``NVM_DIR``...). The probe runs
the user's shell once per start (``loginInteractiveShell`` by default, as the reference CLI
does) and keeps only what the shell *changed* relative to what it was given, so the runner's
own variables (secrets among them) never end up in the runner's state files.
"""

import asyncio
import contextlib
import signal
from dataclasses import dataclass

from roost.core.errors import PermanentError
from roost.runner.runtime.base import ExecProcess, ExecRequest, RuntimeDriver

PROBE_TIMEOUT_S = 10.0
PROBE_FLAGS = {"loginInteractiveShell": "-lic", "loginShell": "-lc", "interactiveShell": "-ic"}
PROBE = 'cat /proc/self/environ; printf "\\0\\0"; exec "$1" "$2" "cat /proc/self/environ"'
"""``sh -c PROBE probe SHELL FLAGS``: the environment given, a separator, the shell's."""
IGNORED = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "PS1", "TERM", "HOSTNAME"})
"""Per-process variables that a probe must not pin for every later process."""


@dataclass(frozen=True)
class Account:
    uid: int
    gid: int
    name: str
    home: str
    shell: str

    def variables(self) -> dict[str, str]:
        """What sshd sets from the passwd entry."""
        return {"HOME": self.home, "USER": self.name, "LOGNAME": self.name, "SHELL": self.shell}


async def _read(driver: RuntimeDriver, env_id: str, path: str) -> str:
    proc = await driver.exec(env_id, ExecRequest(argv=["cat", path], user="0:0"))
    return (await _drain(proc)).decode(errors="replace")


def _parse(text: str) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in text.splitlines() if ":" in line}


async def resolve(driver: RuntimeDriver, env_id: str, user: str) -> tuple[int, int]:
    found = await account(driver, env_id, user)
    return found.uid, found.gid


async def account(driver: RuntimeDriver, env_id: str, user: str) -> Account:
    """The passwd entry of ``user`` (a name or ``uid[:gid]``; empty: root)."""
    name, _, group = (user or "0").partition(":")
    passwd = _parse(await _read(driver, env_id, "/etc/passwd"))
    if name.isdigit():
        entry = next((e for e in passwd.values() if len(e) >= 7 and e[2] == name), None)
        gid = int(group) if group.isdigit() else int(entry[3]) if entry else int(name)
        if entry is None:
            return Account(int(name), gid, name, "/" if name != "0" else "/root", "/bin/sh")
        return Account(int(name), gid, entry[0], entry[5] or "/", entry[6] or "/bin/sh")
    entry = passwd.get(name)
    if entry is None or len(entry) < 4:
        raise PermanentError(
            f"user {name!r} does not exist in the image (from remoteUser/containerUser)"
        )
    gid = int(entry[3])
    if group:
        groups = _parse(await _read(driver, env_id, "/etc/group"))
        if group in groups:
            gid = int(groups[group][2])
        elif group.isdigit():
            gid = int(group)
    home = entry[5] if len(entry) > 5 and entry[5] else "/"
    shell = entry[6] if len(entry) > 6 and entry[6] else "/bin/sh"
    return Account(int(entry[2]), gid, name, home, shell)


async def session_env(
    driver: RuntimeDriver, env_id: str, who: Account, probe: str, given: dict[str, str]
) -> dict[str, str]:
    """The passwd variables plus what ``userEnvProbe`` (``probe``; ``none`` skips it) adds."""
    found = who.variables()
    flags = PROBE_FLAGS.get(probe or "loginInteractiveShell")
    if flags is None:
        return found
    request = ExecRequest(
        argv=["/bin/sh", "-c", PROBE, "probe", who.shell, flags],
        env={**given, **found}, user=f"{who.uid}:{who.gid}", cwd=who.home,
    )  # fmt: skip
    proc = await driver.exec(env_id, request)
    try:
        out = await asyncio.wait_for(_drain(proc), PROBE_TIMEOUT_S)
    except TimeoutError:  # a startup file that waits for input: no probe, the passwd values
        with contextlib.suppress(Exception):
            await proc.signal(signal.SIGKILL)
        return found
    return {**found, **changed(out)}


async def _drain(proc: ExecProcess) -> bytes:
    await proc.close_stdin()
    out = bytearray()
    while (chunk := await proc.read())[0] != 0:
        if chunk[0] == 1:
            out.extend(chunk[1])
    await proc.wait()
    return bytes(out)


def changed(out: bytes) -> dict[str, str]:
    """What the probed shell set or changed, from ``given \\0\\0 probed`` (both environ lists)."""
    given_part, sep, probed_part = out.partition(b"\0\0")
    if not sep:
        return {}
    given, probed = _environ(given_part), _environ(probed_part)
    return {
        k: v for k, v in probed.items() if k not in IGNORED and given.get(k) != v and len(k) < 128
    }


def _environ(raw: bytes) -> dict[str, str]:
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {k: v for k, sep, v in pairs if sep and k}
