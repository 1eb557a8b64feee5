"""The egress table and the shaping parameters, as text and numbers (no kernel)."""

import subprocess

import pytest

from roost.runner.network import egress, shaping
from roost.runner.network.model import NetworkError


def test_lists_are_merged_and_checked() -> None:
    assert egress.normalize(["10.1.2.3", "10.0.0.0/8", " 192.168.0.9/24"]) == [
        "10.0.0.0/8",
        "192.168.0.0/24",
    ]
    with pytest.raises(NetworkError, match="not an IPv4"):
        egress.normalize(["github.com"])


def test_the_table_allows_the_list_nameservers_and_replies_only() -> None:
    text = egress.render(["140.82.112.0/20"], "10.211.0.1", ["10.255.255.53", "fd00::1"])
    assert "elements = { 140.82.112.0/20 }" in text
    assert "ip daddr { 10.255.255.53 } accept" in text  # IPv6 servers are not the table's
    assert "ct state established,related accept" in text
    assert text.rstrip().endswith("}") and "reject with icmpx type admin-prohibited" in text
    nothing = egress.render([], "10.211.0.1", [])
    assert "@allow" not in nothing and "reject" in nothing
    if subprocess.run(["which", "nft"], capture_output=True, check=False).returncode == 0:
        check = subprocess.run(["nft", "-c", "-f", "-"], input=text, text=True,
                               capture_output=True, check=False)  # fmt: skip
        assert check.returncode == 0 or "Operation not permitted" in check.stderr, check.stderr


def test_the_bucket_fits_a_gso_segment_and_twenty_milliseconds() -> None:
    assert shaping.burst_bytes(1) == 64 << 10
    assert shaping.burst_bytes(1000) == 2_500_000
