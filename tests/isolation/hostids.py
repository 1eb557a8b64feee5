"""Host uids of running environments, read from /proc: no two environments may share one.

Every process of an environment runs in the environment's user namespace, whose ``uid_map``
(read from the host) names the host range it maps to. Two top-level user namespaces (children
of the host's) mapping overlapping host ranges would be two environments -- or an environment
and a build -- running as the same host uids. Nested namespaces (an environment's own
``unshare -U``) map part of their parent's range and are skipped: only children of the host's
namespace count. Only the processes in the given cgroup parents (the test's runners) are
looked at: tests run side by side, each with its own id directory.
"""

import fcntl
import itertools
import os
from collections import defaultdict
from pathlib import Path

from roost.runner.idalloc import BASE, WORKSPACE_ID_BASE

NS_GET_PARENT = 0xB702  # _IO(0xb7, 0x2)


def _ns_inode(path: str) -> int:
    return os.stat(path).st_ino


def _parent_inode(pid: str) -> int | None:
    try:
        fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    except OSError:
        return None
    try:
        parent = fcntl.ioctl(fd, NS_GET_PARENT)
    except OSError:
        return None  # the host's own namespace has no parent we may see
    finally:
        os.close(fd)
    try:
        return os.fstat(parent).st_ino
    finally:
        os.close(parent)


def _in(pid: str, cgroup_parents: tuple[str, ...]) -> bool:
    text = Path(f"/proc/{pid}/cgroup").read_text()
    return any(f"/{parent}/" in text for parent in cgroup_parents)


def ranges_by_namespace(cgroup_parents: tuple[str, ...]) -> dict[int, set[tuple[int, int]]]:
    """Top-level user namespaces with processes in ``cgroup_parents`` -> the host uid ranges
    they map (ids of environments and builds only: from ``BASE`` below the workspace ids)."""
    host = _ns_inode("/proc/self/ns/user")
    found: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for pid in (p.name for p in Path("/proc").iterdir() if p.name.isdigit()):
        try:
            ns = _ns_inode(f"/proc/{pid}/ns/user")
            if ns == host or not _in(pid, cgroup_parents) or _parent_inode(pid) != host:
                continue
            lines = Path(f"/proc/{pid}/uid_map").read_text().splitlines()
        except OSError:
            continue  # the process ended while we looked
        for line in lines:
            _, outside, count = (int(x) for x in line.split())
            if BASE <= outside < WORKSPACE_ID_BASE:
                found[ns].add((outside, outside + count))
    return found


def shared_host_uids(*cgroup_parents: str) -> list[str]:
    """Problems: host uid ranges mapped by two different top-level user namespaces."""
    found = ranges_by_namespace(cgroup_parents)
    spans = sorted((a, b, ns) for ns, rs in found.items() for a, b in rs)
    problems = []
    for (_, end, ns1), (a2, _, ns2) in itertools.pairwise(spans):
        if ns1 != ns2 and a2 < end:
            problems.append(f"user namespaces {ns1} and {ns2} share host uids from {a2}")
    return problems
