import asyncio

from roost.core.clock import FakeClock


async def test_fake_clock_sleep_returns_only_when_advanced() -> None:
    clock = FakeClock()
    sleeper = asyncio.create_task(clock.sleep(10))
    await asyncio.sleep(0)
    clock.advance(5)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(5)
    await asyncio.wait_for(sleeper, 1)
