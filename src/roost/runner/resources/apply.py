"""Applying an environment's limits: at start, and live when its class or policy changes.

What is applied where:

=================  ==========================  ===========================================
limit              at start                    live (a new class or policy, running)
=================  ==========================  ===========================================
cpu                bundle shares; CPU loop     weight and the loop's share, at once
memory_mib         bundle (memsw = limit)      at once, unless usage is above it (then at
                                               the next start: lowering below usage would
                                               mean an OOM kill)
pids               bundle                      at once (below the count: no new forks)
disk_gib           disk made or re-quota'd     at once, both ways (``runner/disks``)
upload/download    tc after the netns exists   at once
egress_allow       nft before the container    at once
runtime            the driver chosen           at the next start
=================  ==========================  ===========================================

What did not apply is returned as ``"<limit>: <why>"`` notes, kept in the local state and shown
in the ``resources`` condition (:mod:`.report`).

The runner remembers what it applied (``LocalEnv.applied_resources``, compared with
:func:`wanted`), so an unchanged environment costs nothing, and unlimited environments pay for
no tc or nft call at all.
"""

from typing import Any

from roost.core.schemas.environments import Environment
from roost.runner.network import Caps, NetworkDriver
from roost.runner.runtime.base import RuntimeDriver


def wanted(env: Environment) -> dict[str, Any]:
    """Everything the runner applies from the spec, as one comparable document."""
    limits = env.spec.resources.model_dump(mode="json", exclude={"restore_lost_after_seconds"})
    return {**limits, "egress_allow": env.spec.egress_allow}  # a plane policy: not applied here


def caps(doc: dict[str, Any]) -> Caps:
    return Caps(upload_mbit=doc.get("upload_mbit"), download_mbit=doc.get("download_mbit"))


async def at_start(network: NetworkDriver, env: Environment) -> None:
    """Network limits of a fresh netns, before the container runs in it (no egress window)."""
    doc = wanted(env)
    if doc["egress_allow"] is not None:
        await network.set_egress(env.id, doc["egress_allow"])
    if caps(doc) != Caps():
        await network.set_caps(env.id, caps(doc))


async def live(
    driver: RuntimeDriver, network: NetworkDriver, env: Environment, applied: dict[str, Any]
) -> list[str]:
    """Move a running environment from ``applied`` to what its spec says; returns notes."""
    doc = wanted(env)
    notes = await driver.update_resources(env.id, env.spec.resources)
    if caps(doc) != caps(applied):
        await network.set_caps(env.id, caps(doc))
    if doc["egress_allow"] != applied.get("egress_allow"):
        await network.set_egress(env.id, doc["egress_allow"])
    if applied.get("runtime", doc["runtime"]) != doc["runtime"]:
        notes.append(f"runtime: it stays {applied['runtime']} until the next start")
    return notes
