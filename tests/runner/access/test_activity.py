"""Activity tracking: touched environments are reported in batches, "seconds ago"."""

from roost.core.errors import Unavailable
from roost.core.schemas.activity import ActivityReport
from roost.runner.access.activity import ActivityTracker


async def test_batches_and_keep_alive() -> None:
    now = [100.0]
    tracker = ActivityTracker(clock=lambda: now[0])
    sent: list[ActivityReport] = []

    async def send(report: ActivityReport) -> None:
        sent.append(report)

    tracker.touch("a")
    now[0] = 103.0
    tracker.touch("b")
    tracker.session_opened("c", keep_alive=True)
    tracker.session_opened("d", keep_alive=False)
    now[0] = 110.0
    await tracker.flush(send)
    assert sent[-1].seconds_ago == {"a": 10.0, "b": 7.0, "c": 0.0, "d": 7.0}
    await tracker.flush(send)  # nothing new: only the kept-alive session
    assert sent[-1].seconds_ago == {"c": 0.0}
    tracker.session_closed("c", keep_alive=True)
    tracker.session_closed("d", keep_alive=False)
    await tracker.flush(send)
    assert set(sent[-1].seconds_ago) == {"c", "d"}  # closing is activity too
    count = len(sent)
    await tracker.flush(send)
    assert len(sent) == count  # nothing at all: no call


async def test_a_failed_report_is_sent_next_time() -> None:
    now = [0.0]
    tracker = ActivityTracker(clock=lambda: now[0])
    tracker.touch("a")

    async def down(report: ActivityReport) -> None:
        raise Unavailable("plane down")

    await tracker.flush(down)
    now[0] = 30.0
    sent: list[ActivityReport] = []

    async def up(report: ActivityReport) -> None:
        sent.append(report)

    await tracker.flush(up)
    assert sent[0].seconds_ago == {"a": 30.0}
