"""Address allocation: files under state_dir, lowest free first, exclusive across pools."""

import ipaddress
import threading
from pathlib import Path

import pytest

from roost.runner.network import NetworkError
from roost.runner.network.ipam import AddressPool

SUBNET = ipaddress.IPv4Network("10.212.0.0/24")


def test_allocates_from_the_first_address_after_the_gateway(tmp_path: Path) -> None:
    pool = AddressPool(SUBNET, tmp_path)
    assert str(pool.allocate("a")) == "10.212.0.2"
    assert str(pool.allocate("b")) == "10.212.0.3"
    assert (tmp_path / "addresses" / "10.212.0.2").read_text() == "a"


def test_allocation_is_idempotent_and_survives_a_restart(tmp_path: Path) -> None:
    first = AddressPool(SUBNET, tmp_path).allocate("a")
    assert AddressPool(SUBNET, tmp_path).allocate("a") == first
    assert AddressPool(SUBNET, tmp_path).lookup("a") == first


def test_released_addresses_are_reused(tmp_path: Path) -> None:
    pool = AddressPool(SUBNET, tmp_path)
    a, _ = pool.allocate("a"), pool.allocate("b")
    pool.release("a")
    pool.release("a")  # idempotent
    assert pool.lookup("a") is None
    assert pool.allocate("c") == a
    assert (tmp_path / "addresses" / "10.212.0.2").read_text() == "c"


def test_exhaustion_is_a_clear_error(tmp_path: Path) -> None:
    pool = AddressPool(ipaddress.IPv4Network("10.212.0.0/29"), tmp_path)
    given = [str(pool.allocate(f"e{i}")) for i in range(5)]  # .2 to .6; .0 .1 .7 are not
    assert given == [f"10.212.0.{n}" for n in range(2, 7)]
    with pytest.raises(NetworkError) as info:
        pool.allocate("one_more")
    assert info.value.code == "network_exhausted"


def test_concurrent_allocations_from_two_pools_never_share_an_address(tmp_path: Path) -> None:
    pools = [AddressPool(SUBNET, tmp_path), AddressPool(SUBNET, tmp_path)]  # two "processes"
    results: dict[str, ipaddress.IPv4Address] = {}
    barrier = threading.Barrier(40)

    def allocate(pool: AddressPool, env_id: str) -> None:
        barrier.wait()
        results[env_id] = pool.allocate(env_id)

    threads = [threading.Thread(target=allocate, args=(pools[i % 2], f"env{i}")) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40
    assert len(set(results.values())) == 40
    on_disk = {p.read_text(): p.name for p in (tmp_path / "addresses").iterdir()}
    assert on_disk == {env: str(address) for env, address in results.items()}


def test_load_ignores_foreign_files_and_sweeps_dead_claims(tmp_path: Path) -> None:
    directory = tmp_path / "addresses"
    directory.mkdir()
    (directory / "10.99.0.5").write_text("elsewhere")  # another subnet (config changed)
    (directory / "README").write_text("hello")
    (directory / ".claim-999999999-x").write_text("x")  # its process is gone
    pool = AddressPool(SUBNET, tmp_path)
    assert pool.allocations() == {}
    assert not (directory / ".claim-999999999-x").exists()


def test_invalid_env_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NetworkError):
        AddressPool(SUBNET, tmp_path).allocate("../etc")
