"""Naming OOM victims from kernel log records, and the ``resources`` condition's text."""

from datetime import UTC, datetime

from roost.core.schemas.environments import Environment
from roost.runner.resources.oom import OomKill, OomWatcher
from roost.runner.resources.report import describe
from roost.runner.runtime.base import Stats

OOM = (
    b"6,46524,6784421008,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=abc,"
    b"mems_allowed=0,oom_memcg=/roost/06h263syzxdng9xtd8y7,task_memcg=/roost/06h263syzxdng9xtd8y7,"
    b"task=python3,pid=11232,uid=16777216\n"
)
KILLED = (
    b"3,46525,6784421024,-;Memory cgroup out of memory: Killed process 11232 (python3) "
    b"total-vm:100580kB, anon-rss:65032kB, file-rss:1520kB, shmem-rss:0kB, UID:16777216\n"
)


def test_a_kill_is_named_and_wakes_the_environment() -> None:
    woken: list[str] = []
    watcher = OomWatcher("roost", woken.append)
    watcher.feed(OOM)
    watcher.feed(KILLED)
    kill = watcher.last("06h263syzxdng9xtd8y7")
    assert kill is not None
    assert (kill.process, kill.pid, kill.rss_kib) == ("python3", 11232, 65032)
    assert woken == ["06h263syzxdng9xtd8y7"]


def test_other_cgroups_and_replays_do_not_wake() -> None:
    woken: list[str] = []
    watcher = OomWatcher("elsewhere", woken.append)
    watcher.feed(OOM)
    assert watcher.last("06h263syzxdng9xtd8y7") is None
    mine = OomWatcher("roost", woken.append)
    mine.feed(OOM, notify=False)  # the ring buffer read at start
    assert woken == [] and mine.last("06h263syzxdng9xtd8y7") is not None
    mine.feed(b"garbage without a header")
    mine.feed(b"6,1,2,-;an ordinary line\n")


def env(**spec: object) -> Environment:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Environment.model_validate({
        "metadata": {"id": "e1", "name": "e", "organization_id": "o", "owner_id": "u",
                     "created_at": now, "updated_at": now},
        "spec": spec, "status": {},
    })  # fmt: skip


def test_the_condition_says_what_happened() -> None:
    kill = OomKill("e1", "python3", 42, datetime(2026, 1, 1, 12, 0, 3, tzinfo=UTC), 1000)
    message, details = describe(env(), Stats(oom_kills=2), kill, ["memory_mib: too low"], 2.0)
    assert message == (
        "2 CPU, 4096 MiB, 20 GiB disk, 4096 pids; out of memory 2x: killed python3 (pid 42) "
        "at 2026-01-01T12:00:03Z; not applied: memory_mib: too low"
    )
    assert details["last_oom"]["process"] == "python3" and details["oom_kills"] == 2
    capped = env(resources={"cpu": 1, "upload_mbit": 10}, egress_allow=["10.0.0.0/8"])
    message, _ = describe(capped, Stats(oom_kills=1), None, [], 2.0)
    assert message.startswith("1 CPU (bursts to 2), 4096 MiB")
    assert "upload 10 Mbit/s, download uncapped, egress to 1 network only" in message
    assert "the kernel log no longer says which" in message


def test_the_pids_limit_is_reported_like_an_oom_kill() -> None:
    woken: list[str] = []
    watcher = OomWatcher("roost", woken.append)
    watcher.feed(b"6,90,6784421999,-;cgroup: fork rejected by pids controller in "
                 b"/roost/06h263syzxdng9xtd8y7\n")  # fmt: skip
    assert woken == ["06h263syzxdng9xtd8y7"]  # its pass reports the condition at once
    message, details = describe(env(resources={"pids": 64}), Stats(pids_limit_hits=3), None, [])
    assert "process limit reached (64 pids): 3 new processes refused" in message
    assert details["pids_limit_hits"] == 3
