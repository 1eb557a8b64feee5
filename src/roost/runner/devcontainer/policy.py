"""What a devcontainer.json may ask of the runner, and the refusals when it asks for more.

An environment's isolation is the runner's decision, not the repository's: ``privileged`` is
always refused, ``capAdd`` is honoured only for capabilities on the allow-list (they apply inside
the environment's user namespace, never to the host), ``securityOpt`` is refused (the seccomp
profile and the rest are the runner's), and ``mounts`` may only be tmpfs -- never a host path,
and not yet named volumes (a stop keeps the workspace and, if asked, the writable layer; a volume
would be lost at every stop, so it is refused rather than silently dropped). Each refusal names
the property and the reason, so the repository's owner knows what to change. What is allowed is
applied: :class:`Grants` goes into the environment's bundle.
"""

from dataclasses import dataclass, field

from roost.core.devcontainer.model import DevcontainerConfig, Mount
from roost.core.errors import PermanentError

ALLOWED_CAPS = frozenset({"SYS_PTRACE"})
"""Debuggers (gdb, strace) attaching to other users' processes inside the environment."""


class PolicyRefusal(PermanentError):
    code = "devcontainer_refused"


@dataclass
class Grants:
    cap_add: list[str] = field(default_factory=list)
    """Capability names without ``CAP_`` (from the allow-list)."""
    tmpfs: list[str] = field(default_factory=list)
    """Targets of tmpfs mounts."""


def check(config: DevcontainerConfig, path: str) -> Grants:
    """Raise for what the policy refuses; return what the environment gets."""
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
    return Grants(cap_add=sorted(set(caps)), tmpfs=[_tmpfs(m, path) for m in config.mounts])


def _tmpfs(mount: str | Mount, path: str) -> str:
    """The target of an allowed (tmpfs) mount."""
    target: str | None
    if isinstance(mount, Mount):
        kind, target = mount.type, mount.target
    else:
        kind = _field(mount, "type") or "bind"
        target = _field(mount, "target") or _field(mount, "dst") or _field(mount, "destination")
    if kind == "volume":
        raise PolicyRefusal(
            f"{path}: mount {mount!r} is a named volume, which this runner does not keep (a stop "
            "keeps the workspace and, if the class asks, the writable layer); keep the data in "
            "the workspace, or use a tmpfs mount"
        )
    if kind != "tmpfs":
        raise PolicyRefusal(
            f"{path}: mount {mount!r} is a {kind} mount; only tmpfs mounts are allowed "
            "(an environment never sees the runner host's files)"
        )
    if not target or not target.startswith("/"):
        raise PolicyRefusal(f"{path}: mount {mount!r} needs an absolute target")
    return target


def _field(mount: str, name: str) -> str | None:
    for part in mount.split(","):
        key, _, value = part.partition("=")
        if key.strip() == name:
            return value.strip()
    return None
