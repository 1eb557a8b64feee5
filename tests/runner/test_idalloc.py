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
