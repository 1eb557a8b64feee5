"""Fixtures for the root tests: a runner network with names unique to the test, always removed."""

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.runner.network import Network, NetworkConfig
from tests.runner.network.support import MakeConfig, managed
from tests.support.runner import free_subnet


@pytest.fixture
def make_config(tmp_path: Path) -> MakeConfig:
    """Builds a NetworkConfig whose bridge, table, netns prefix and subnet are the test's own."""

    def make(second_octet: int = 212, **overrides: object) -> NetworkConfig:
        name = f"rt{secrets.token_hex(3)}"
        values: dict[str, object] = {
            "bridge": name,
            "nft_table": name,
            "netns_prefix": f"{name}-",
            "subnet": free_subnet(second_octet),
            "state_dir": tmp_path / name,
        }
        return NetworkConfig(**{**values, **overrides})  # type: ignore[arg-type]

    return make


@pytest.fixture
async def network(make_config: MakeConfig) -> AsyncIterator[Network]:
    """A set-up runner network; torn down (and swept) afterwards, even on failure."""
    async with managed(make_config()) as net:
        yield net
