"""The order features are installed in: the specification's round-based algorithm
(containers.dev/implementors/features, "Installation order"), as the reference CLI implements it.

* The work list is the user's features plus, recursively, their ``dependsOn`` (hard
  dependencies, installed even if the user did not list them, with the options given there);
  a feature listed twice with the same options is installed once.
* ``installsAfter`` (soft) only orders: it names features that, *if* present, go first; names
  of absent features are dropped.
* Each round takes every feature whose hard and soft dependencies are all installed. Of those,
  only the ones with the highest priority go in this round -- ``overrideFeatureInstallOrder``
  gives its first entry priority N, the next N-1..., everyone else 0 -- the others wait for the
  next. A round is sorted deterministically (registry/namespace, id, tag, options; folder for
  local features). No candidates while features remain is a cycle, and an error.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from roost.runner.devcontainer.feature_oci import FeatureError
from roost.runner.devcontainer.features import Feature


@dataclass
class Node:
    feature: Feature
    depends_on: list[Feature] = field(default_factory=list)
    installs_after: list[str] = field(default_factory=list)
    """Keys (see :func:`key_of` in :mod:`.feature_set`) of soft dependencies."""
    priority: int = 0


def same(a: Feature, b: Feature) -> bool:
    """One installation: same source, same content, same options."""
    return (a.kind, a.resource, a.digest, a.options_key()) == (
        b.kind, b.resource, b.digest, b.options_key(),
    )  # fmt: skip


def satisfies(feature: Feature, key: str) -> bool:
    return key in feature.aliases


def order(nodes: Sequence[Node], override: Sequence[str] = ()) -> list[Feature]:
    """Install order of ``nodes``; ``override`` holds keys in overrideFeatureInstallOrder."""
    worklist = list(nodes)
    for node in worklist:  # soft dependencies on absent features do not order anything
        node.installs_after = [
            k for k in node.installs_after if any(satisfies(n.feature, k) for n in worklist)
        ]
    for index, key in enumerate(override):
        for node in worklist:
            if satisfies(node.feature, key):
                node.priority = max(node.priority, len(override) - index)
    installed: list[Feature] = []
    while worklist:
        ready = [n for n in worklist if _ready(n, installed)]
        if not ready:
            names = ", ".join(n.feature.user_id for n in worklist)
            raise FeatureError(f"features depend on each other in a cycle: {names}")
        top = max(n.priority for n in ready)
        ready = [n for n in ready if n.priority == top]
        worklist = [n for n in worklist if n not in ready]
        installed += sorted((n.feature for n in ready), key=functools.cmp_to_key(compare))
    return installed


def _ready(node: Node, installed: list[Feature]) -> bool:
    hard = all(any(same(i, d) for i in installed) for d in node.depends_on)
    return hard and all(any(satisfies(i, k) for i in installed) for k in node.installs_after)


def compare(a: Feature, b: Feature) -> int:
    if a.kind != b.kind:
        return _cmp(a.user_id, b.user_id)
    keys_a, keys_b = _sort_keys(a), _sort_keys(b)
    for x, y in zip(keys_a, keys_b, strict=True):
        if x != y:
            return _cmp(x, y)
    return 0


def _sort_keys(f: Feature) -> tuple[str, ...]:
    if f.kind == "oci":
        return (f.resource.rsplit("/", 1)[0], f.id, f.tag, f.options_key(), f.digest)
    return (f.resource, f.options_key())


def _cmp(x: str, y: str) -> int:
    """Like JavaScript's ``localeCompare`` for the ASCII names features have: case-insensitive
    first."""
    kx, ky = (x.casefold(), x), (y.casefold(), y)
    return -1 if kx < ky else (1 if kx > ky else 0)
