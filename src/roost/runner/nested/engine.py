"""Starting the environment's Docker daemon, and saying why when it cannot start.

When the image has ``dockerd`` (Debian's ``docker.io``, or the docker-in-docker feature's),
the runner starts it once per run of the environment -- the image's init is the runner's, so
nothing else would -- as a daemon of the environment's init, logging to
``/var/log/dockerd.log``, and waits for its socket. Podman needs no daemon.

A daemon that does not come up never fails the environment: it keeps running, and the
``containers`` condition says what is missing (the daemon's last words, plus what the runner
checked of the kernel: overlayfs in a user namespace, the devices, the cgroup view).
"""

from dataclasses import dataclass

from roost.runner.runtime.base import ExecRequest, RuntimeDriver

LOG = "/var/log/dockerd.log"
WAIT_S = 30
# A fixed script (no input from anyone): start dockerd unless it runs, wait for its socket.
START = f"""
command -v dockerd >/dev/null 2>&1 || {{ echo absent; exit 0; }}
if [ -S /run/docker.sock ] && [ -f /run/docker.pid ] && kill -0 "$(cat /run/docker.pid)" 2>/dev/null
then echo running; exit 0; fi
setsid dockerd >{LOG} 2>&1 </dev/null &
pid=$!
i=0
while [ $i -lt {WAIT_S * 10} ]; do
    if [ -S /run/docker.sock ] && docker version >/dev/null 2>&1; then echo started; exit 0; fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.1; i=$((i + 1))
done
echo failed
tail -n 5 {LOG}
[ -c /dev/fuse ] || echo "missing: /dev/fuse"
[ -c /dev/net/tun ] || echo "missing: /dev/net/tun"
grep -qw overlay /proc/filesystems || echo "missing: overlay filesystem in the kernel"
[ -w /sys/fs/cgroup ] || [ -w /sys/fs/cgroup/memory ] || echo "missing: a writable cgroup view"
exit 1
"""


@dataclass(frozen=True)
class EngineState:
    state: str
    """``absent`` (no dockerd in the image), ``running``, ``started`` or ``failed``."""
    detail: str = ""


async def ensure_dockerd(driver: RuntimeDriver, env_id: str) -> EngineState:
    process = await driver.exec(env_id, ExecRequest(["/bin/sh", "-c", START], user="0:0"))
    await process.close_stdin()
    chunks: list[bytes] = []
    while True:
        _, data = await process.read()
        if not data:
            break
        if sum(len(c) for c in chunks) < 8192:
            chunks.append(data)
    await process.wait()
    lines = b"".join(chunks).decode(errors="replace").strip().splitlines()
    if not lines:
        return EngineState("failed", "the start script printed nothing")
    return EngineState(lines[0].strip(), "\n".join(lines[1:]))
