"""What a devcontainer.json may ask of the runner, and the refusals when it asks for more.

An environment's isolation is the runner's decision, not the repository's: ``privileged`` is
never granted as such, ``capAdd`` is honoured only for capabilities on the allow-list (they apply
inside the environment's user namespace, never to the host), ``securityOpt`` is refused (the seccomp
profile and the rest are the runner's), and ``mounts`` may only be tmpfs -- never a host path,
and not yet named volumes (a stop keeps the workspace and, if asked, the writable layer; a volume
would be lost at every stop, so it is refused rather than silently dropped). Each refusal names
the property and the reason, so the repository's owner knows what to change. What is allowed is
applied: :class:`Grants` goes into the environment's bundle.

**Nested containers.** What a devcontainer.json asks for to run a container engine inside --
``privileged: true``, ``runArgs: ["--privileged"]``, the ``docker-in-docker`` or
``docker-outside-of-docker`` feature, ``capAdd: [SYS_ADMIN]`` (or ``NET_ADMIN``) -- becomes the
environment's *nested-containers mode* (``runner/nested/``: engine capabilities in its own user
namespace, never privilege on the host) when its class allows it, and a refusal naming the
class's ``nested_containers`` policy when not. In that mode a named volume on ``/var/lib/docker``
or ``/var/lib/containers`` (the docker-in-docker feature declares one) is the engine's storage,
which the runner provides and keeps.
"""

from dataclasses import dataclass, field
from typing import Any

from roost.core.devcontainer.model import DevcontainerConfig, Mount
from roost.core.errors import PermanentError

ALLOWED_CAPS = frozenset({"SYS_PTRACE"})
"""Debuggers (gdb, strace) attaching to other users' processes inside the environment."""
NESTED_CAPS = frozenset({"SYS_ADMIN", "NET_ADMIN"})
"""Capabilities asked for to run an engine: granted (in the user namespace) by the nested mode."""
NESTED_FEATURES = ("docker-in-docker", "docker-outside-of-docker")
ENGINE_STORAGE = ("/var/lib/docker", "/var/lib/containers")


class PolicyRefusal(PermanentError):
    code = "devcontainer_refused"


@dataclass
class Grants:
    cap_add: list[str] = field(default_factory=list)
    """Capability names without ``CAP_`` (from the allow-list)."""
    tmpfs: list[str] = field(default_factory=list)
    """Targets of tmpfs mounts."""
    nested_containers: bool = False
    """The configuration asks for a container engine inside (and the class allows it)."""


def nested_reasons(config: DevcontainerConfig) -> list[str]:
    """What in ``config`` asks for nested containers, in words (empty: nothing)."""
    reasons = []
    if config.privileged:
        reasons.append("privileged: true")
    run_args: Any = (config.model_extra or {}).get("runArgs") or []
    if isinstance(run_args, list) and "--privileged" in run_args:
        reasons.append('runArgs ["--privileged"]')
    for ref in config.features:
        name = ref.rstrip("/").rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
        if name in NESTED_FEATURES:
            reasons.append(f"feature {ref}")
    caps = {c.upper().removeprefix("CAP_") for c in config.cap_add}
    reasons += [f"capAdd {c}" for c in sorted(caps & NESTED_CAPS)]
    return reasons


def check(
    config: DevcontainerConfig, path: str, *, nested_allowed: bool = False, class_name: str = ""
) -> Grants:
    """Raise for what the policy refuses; return what the environment gets. ``nested_allowed``:
    the environment's class allows nested containers (``class_name`` names it in a refusal)."""
    asks = nested_reasons(config)
    if asks and not nested_allowed:
        raise PolicyRefusal(
            f"{path}: {', '.join(asks)} asks for nested containers, which the class "
            f"{class_name!r} does not allow (its policy nested_containers is off, or its "
            "organization's); use a class created with --nested-containers, or remove it"
        )
    if config.security_opt:
        raise PolicyRefusal(
            f"{path}: securityOpt {config.security_opt} is not allowed by this runner's security "
            "policy (the runner sets seccomp and the rest); remove it"
        )
    caps = [c.upper().removeprefix("CAP_") for c in config.cap_add]
    caps = [c for c in caps if not (asks and c in NESTED_CAPS)]  # the nested mode has them
    refused = [c for c in caps if c not in ALLOWED_CAPS]
    if refused:
        raise PolicyRefusal(
            f"{path}: capAdd {refused} is not allowed by this runner's security policy "
            f"(allowed: {sorted(ALLOWED_CAPS)})"
        )
    tmpfs = [_tmpfs(m, path, bool(asks)) for m in config.mounts]
    return Grants(
        cap_add=sorted(set(caps)),
        tmpfs=[t for t in tmpfs if t is not None],
        nested_containers=bool(asks),
    )


def _tmpfs(mount: str | Mount, path: str, nested: bool) -> str | None:
    """The target of an allowed (tmpfs) mount; None for the engine's storage in nested mode."""
    target: str | None
    if isinstance(mount, Mount):
        kind, target = mount.type, mount.target
    else:
        kind = _field(mount, "type") or "bind"
        target = _field(mount, "target") or _field(mount, "dst") or _field(mount, "destination")
    if kind == "volume" and nested and target in ENGINE_STORAGE:
        return None  # the runner's engine storage, kept on the environment's disk
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
