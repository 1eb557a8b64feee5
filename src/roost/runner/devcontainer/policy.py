"""What a devcontainer.json may ask of the runner, and the refusals when it asks for more.

An environment's isolation is the runner's decision, not the repository's: ``privileged`` is
always refused, ``capAdd`` is honoured only for capabilities on the allow-list (they apply inside
the environment's user namespace, never to the host), ``securityOpt`` is refused (the seccomp
profile and the rest are the runner's), and ``mounts`` may only be volumes (a per-environment
directory) or tmpfs -- never a host path. Each refusal names the property and the reason, so
the repository's owner knows what to change.
"""

from roost.core.devcontainer.model import DevcontainerConfig, Mount
from roost.core.errors import PermanentError

ALLOWED_CAPS = frozenset({"SYS_PTRACE"})
"""Debuggers (gdb, strace) attaching to other users' processes inside the environment."""


class PolicyRefusal(PermanentError):
    code = "devcontainer_refused"


def check(config: DevcontainerConfig, path: str) -> list[str]:
    """Raise for what the policy refuses; return the capabilities to add."""
    if config.privileged:
        raise PolicyRefusal(
            f"{path}: privileged is not allowed by this runner's security policy "
            "(environments never run privileged); remove it"
        )
    if config.security_opt:
        raise PolicyRefusal(
            f"{path}: securityOpt {config.security_opt} is not allowed by this runner's security "
            "policy (the runner sets seccomp and the rest); remove it"
        )
    caps = [c.upper().removeprefix("CAP_") for c in config.cap_add]
    refused = [c for c in caps if c not in ALLOWED_CAPS]
    if refused:
        raise PolicyRefusal(
            f"{path}: capAdd {refused} is not allowed by this runner's security policy "
            f"(allowed: {sorted(ALLOWED_CAPS)})"
        )
    for mount in config.mounts:
        _check_mount(mount, path)
    return caps


def _check_mount(mount: str | Mount, path: str) -> None:
    kind = mount.type if isinstance(mount, Mount) else _field(mount, "type") or "bind"
    if kind not in ("volume", "tmpfs"):
        raise PolicyRefusal(
            f"{path}: mount {mount!r} is a {kind} mount; only volume and tmpfs mounts are allowed "
            "(an environment never sees the runner host's files)"
        )


def _field(mount: str, name: str) -> str | None:
    for part in mount.split(","):
        key, _, value = part.partition("=")
        if key.strip() == name:
            return value.strip()
    return None
