"""Configuration validation and derived names."""

from pathlib import Path

import pytest

from roost.runner.network import NetworkConfig, NetworkError
from roost.runner.network.model import check_env_id, check_hostname


def test_defaults_follow_the_issue() -> None:
    config = NetworkConfig()
    assert str(config.gateway) == "10.211.0.1"
    assert config.blocked == ("169.254.169.254/32",)
    assert config.netns_path("abc123") == Path("/run/netns/roost-abc123")


def test_host_veth_names_fit_ifnamsiz_and_depend_on_bridge_and_env() -> None:
    config = NetworkConfig()
    names = {config.host_veth(f"env{i}") for i in range(1000)}
    assert len(names) == 1000
    assert all(len(name) == 15 and name.startswith("rv") for name in names)
    assert config.host_veth("env1") == NetworkConfig().host_veth("env1")
    assert config.host_veth("env1") != NetworkConfig(bridge="other").host_veth("env1")


def test_env_id_of_recognizes_only_this_runners_netns() -> None:
    config = NetworkConfig(netns_prefix="roost-")
    assert config.env_id_of("roost-abc") == "abc"
    assert config.env_id_of("other-abc") is None
    assert config.env_id_of("roost-x-abc") is None  # another runner's "roost-x-" prefix


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bridge": "a-name-far-too-long"},
        {"bridge": "br;rm"},
        {"subnet": "10.211.0.0/30"},
        {"subnet": "10.211.0.1/16"},
        {"subnet": "fd00::/64"},
        {"nft_table": "1bad"},
        {"blocked": ("not-a-cidr",)},
        {"dns_servers": ("dns.example",)},
        {"netns_prefix": "../"},
    ],
)
def test_invalid_configuration_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(NetworkError) as info:
        NetworkConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.code == "network_invalid_config"


@pytest.mark.parametrize("env_id", ["", "UPPER", "a/b", "../x", "a-b", "x" * 65])
def test_env_ids_that_could_escape_a_path_are_refused(env_id: str) -> None:
    with pytest.raises(NetworkError):
        check_env_id(env_id)


@pytest.mark.parametrize("hostname", ["", "-x", "a b", "x\n127.0.0.1 evil", "a..b"])
def test_hostnames_that_could_corrupt_etc_hosts_are_refused(hostname: str) -> None:
    with pytest.raises(NetworkError):
        check_hostname(hostname)


@pytest.mark.parametrize("hostname", ["dev-1.example.com", "trailing-", "under_score", "x" * 63])
def test_good_hostnames_pass(hostname: str) -> None:
    assert check_hostname(hostname) == hostname
