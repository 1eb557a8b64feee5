"""FakeNetwork keeps the real contract for the layers above."""

from roost.runner.network import FakeNetwork, Network, NetworkDriver

_STATIC_CHECK: tuple[type[NetworkDriver], ...] = (Network, FakeNetwork)  # mypy: both conform


async def test_fake_network_contract() -> None:
    fake = FakeNetwork()
    driver: NetworkDriver = fake
    await driver.setup_host()
    a = await driver.create("a", "host-a")
    assert await driver.create("a", "host-a") == a
    b = await driver.create("b", "host-b")
    assert a.address != b.address != a.gateway
    assert await driver.inspect("a") == a
    assert driver.list() == ["a", "b"]
    await driver.delete("a")
    await driver.delete("a")
    assert await driver.inspect("a") is None
    assert driver.list() == ["b"]
    assert ("delete", "a") in fake.calls
    assert (await driver.create("c", "")).hosts.endswith("\tc\n")  # no name: the env id
