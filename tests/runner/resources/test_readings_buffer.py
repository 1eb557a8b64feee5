"""Readings go to the plane in batches; a failed send is dropped, never piled up."""

from roost.core.errors import Unavailable
from roost.core.schemas.readings import ReadingsReport
from roost.runner.resources.readings import ReadingsBuffer
from roost.runner.runtime.base import Stats


async def test_batches_and_drops_on_failure() -> None:
    sent: list[ReadingsReport] = []
    fail = False

    async def send(batch: ReadingsReport) -> None:
        if fail:
            raise Unavailable("plane down")
        sent.append(batch)

    buffer = ReadingsBuffer(send, every=3600)
    await buffer.add("e1", Stats(cpu_usage_ns=1, memory_bytes=2))
    await buffer.add("e2", Stats(cpu_usage_ns=3, memory_bytes=4))
    assert sent == []  # not yet due
    await buffer.flush()
    assert [r.environment_id for r in sent[0].readings] == ["e1", "e2"]
    fail = True
    await buffer.add("e1", Stats(cpu_usage_ns=5))
    await buffer.flush()
    assert buffer.pending == []  # dropped, not kept for later
    now = ReadingsBuffer(send, every=0)
    fail = False
    await now.add("e3", Stats())
    assert sent[-1].readings[0].environment_id == "e3"  # due at once: sent with the reading
