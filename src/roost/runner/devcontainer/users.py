"""Resolving a user name inside an environment to its uid and gid.

The image's own ``/etc/passwd`` and ``/etc/group`` decide (read with ``cat`` through the
runtime, as root inside: no host-side path resolution into the environment's files). Numeric
forms (``1000`` or ``1000:1000``) are taken as they are.
"""

from roost.core.errors import PermanentError
from roost.runner.runtime.base import ExecRequest, RuntimeDriver


async def _read(driver: RuntimeDriver, env_id: str, path: str) -> str:
    proc = await driver.exec(env_id, ExecRequest(argv=["cat", path], user="0:0"))
    await proc.close_stdin()
    out = bytearray()
    while True:
        stream, data = await proc.read()
        if stream == 0:
            break
        if stream == 1:
            out.extend(data)
    await proc.wait()
    return out.decode(errors="replace")


def _parse(text: str) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in text.splitlines() if ":" in line}


async def resolve(driver: RuntimeDriver, env_id: str, user: str) -> tuple[int, int]:
    name, _, group = user.partition(":")
    if name.isdigit():
        return int(name), int(group) if group.isdigit() else int(name)
    passwd = _parse(await _read(driver, env_id, "/etc/passwd"))
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
    return int(entry[2]), gid
