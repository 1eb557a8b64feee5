"""Delegating an environment's cgroup, on a fake cgroupfs: on a v2 host its processes move to a
leaf and its controllers are enabled below it (the "no internal processes" rule); on v1 (and
hybrid) hosts nothing moves."""

import os
from pathlib import Path

from roost.runner.runtime.container import delegate


def _cgroup(path: Path, procs: str, controllers: str = "") -> None:
    path.mkdir(parents=True)
    (path / "cgroup.procs").write_text(procs)
    (path / "cgroup.controllers").write_text(controllers)
    (path / "cgroup.subtree_control").write_text("")


def test_on_cgroup_v2_the_processes_move_to_a_leaf_and_controllers_open_below(
    tmp_path: Path,
) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids")
    (tmp_path / "cgroup.procs").write_text("")
    env = tmp_path / "roost" / "env1"
    _cgroup(env, "11\n12\n", "cpu memory pids")
    assert delegate.delegate("/roost/env1", os.getuid(), root=tmp_path) == [env]
    leaf = env / "init"
    assert leaf.is_dir()
    assert (leaf / "cgroup.procs").read_text() == "12"  # a plain file keeps the last write
    assert (env / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"


def test_on_cgroup_v1_nothing_moves(tmp_path: Path) -> None:
    for controller in ("memory", "pids"):
        (tmp_path / controller).mkdir()
        (tmp_path / controller / "cgroup.procs").write_text("")
        _cgroup(tmp_path / controller / "roost" / "env1", "11\n")
    done = delegate.delegate("/roost/env1", os.getuid(), root=tmp_path)
    assert len(done) == 2
    assert not any((d / "init").exists() for d in done)
    assert all((d / "cgroup.subtree_control").read_text() == "" for d in done)
