import multiprocessing
from pathlib import Path

from roost.runner.idalloc import BASE, RANGE_SIZE, IdAllocator


def test_ranges_are_distinct_stable_and_released(tmp_path: Path) -> None:
    ids = IdAllocator(tmp_path)
    a, b = ids.allocate("env-a"), ids.allocate("env-b")
    assert {a, b} == {BASE, BASE + RANGE_SIZE}
    assert ids.allocate("env-a") == a  # idempotent
    assert IdAllocator(tmp_path).find("env-b") == b  # survives a restart
    ids.release("env-a")
    assert ids.find("env-a") is None
    assert ids.allocate("env-c") == a  # reused


def _grab(args: tuple[str, str]) -> int:
    return IdAllocator(Path(args[0])).allocate(args[1])


def test_processes_never_share_a_range(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        bases = pool.map(_grab, [(str(tmp_path), f"env-{i}") for i in range(40)])
    assert len(set(bases)) == 40


def test_a_runner_releases_only_its_own_ranges(tmp_path: Path) -> None:
    """Two runners of one host share the directory; an environment moved from r1 to r2: a late
    pass of r1 releasing it must not free the range r2 runs it in (regression: it did, and the
    next environment got the same host uids as a running one)."""
    r1, r2 = IdAllocator(tmp_path, runner="r1"), IdAllocator(tmp_path, runner="r2")
    old = r1.allocate("env-a")
    new = r2.allocate("env-a")
    assert new != old  # each runner's own range (the restore maps the files into it)
    r1.release("env-a")  # the late retry on the runner that no longer owns it
    assert r2.find("env-a") == new
    assert r2.allocate("env-b") not in (new,)
    assert r1.allocate("env-c") != new


def test_a_range_from_before_owners_is_adopted(tmp_path: Path) -> None:
    """Slots written before ranges had runners keep their environment's range after an
    upgrade (its files on disk are under it)."""
    (tmp_path / "owners").mkdir()
    (tmp_path / "3").write_text('{"owner": "env-a"}')
    (tmp_path / "owners" / "env-a").symlink_to("../3")
    ids = IdAllocator(tmp_path, runner="r1")
    assert ids.find("env-a") == BASE + 3 * RANGE_SIZE
    assert IdAllocator(tmp_path, runner="r2").find("env-a") is None
    assert ids.allocate("env-a") == BASE + 3 * RANGE_SIZE
