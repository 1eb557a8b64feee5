"""The generated nftables ruleset (text), and that nft accepts it (root: ``nft -c``)."""

import os
import subprocess
from pathlib import Path

import pytest

from roost.runner.network import NetworkConfig, ruleset
from roost.runner.network.model import NetworkError
from roost.runner.network.ruleset import render_delete, render_ruleset

CONFIG = NetworkConfig(bridge="rtbr", subnet="10.212.5.0/24", nft_table="rt_table")


def rules(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_the_table_is_replaced_atomically() -> None:
    lines = rules(render_ruleset(CONFIG, dns_relay=False))
    assert lines[:3] == [
        "table inet rt_table {}",
        "delete table inet rt_table",
        "table inet rt_table {",
    ]


def test_masquerade_leaves_through_anything_but_the_bridge() -> None:
    assert 'ip saddr 10.212.5.0/24 oifname != "rtbr" masquerade' in rules(
        render_ruleset(CONFIG, dns_relay=False)
    )


def test_environments_are_rejected_from_the_host_and_each_other() -> None:
    lines = rules(render_ruleset(CONFIG, dns_relay=False))
    assert 'iifname "rtbr" jump input_from_envs' in lines
    assert 'oifname "rtbr" reject with icmpx type admin-prohibited' in lines
    assert "ip daddr @blocked_v4 reject with icmpx type admin-prohibited" in lines
    assert "elements = { 169.254.169.254/32 }" in lines
    assert "ip saddr != 10.212.5.0/24 drop" in lines
    chain = lines[lines.index("chain input_from_envs {") :]
    assert chain[1:3] == [
        "ct state established,related accept",
        "reject with icmpx type admin-prohibited",
    ]


def test_dns_to_the_gateway_is_allowed_only_with_the_relay() -> None:
    dns = ["ip daddr 10.212.5.1 udp dport 53 accept", "ip daddr 10.212.5.1 tcp dport 53 accept"]
    with_relay = rules(render_ruleset(CONFIG, dns_relay=True))
    without = rules(render_ruleset(CONFIG, dns_relay=False))
    assert all(rule in with_relay for rule in dns)
    assert not any(rule in without for rule in dns)
    # ... and the DNS accepts come before the final reject
    assert with_relay.index(dns[1]) < with_relay.index("reject with icmpx type admin-prohibited")


def test_no_blocked_set_when_nothing_is_blocked() -> None:
    text = render_ruleset(NetworkConfig(blocked=()), dns_relay=False)
    assert "blocked_v4" not in text


def test_blocked_cidrs_are_normalized() -> None:
    text = render_ruleset(
        NetworkConfig(blocked=("169.254.0.1/16", "100.100.100.200/32")), dns_relay=False
    )
    assert "elements = { 169.254.0.0/16, 100.100.100.200/32 }" in text


def test_delete_is_idempotent_text() -> None:
    assert render_delete("rt_table") == "table inet rt_table {}\ndelete table inet rt_table\n"


@pytest.mark.root
@pytest.mark.parametrize("dns_relay", [False, True])
def test_nft_accepts_the_ruleset(dns_relay: bool) -> None:
    text = render_ruleset(CONFIG, dns_relay=dns_relay)
    result = subprocess.run(
        ["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _fake_nft(tmp_path: Path, crashes: int) -> None:
    """An ``nft`` on PATH that dies by SIGSEGV ``crashes`` times, then succeeds."""
    count = tmp_path / "count"
    count.write_text("0")
    script = tmp_path / "nft"
    script.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        f"n=$(cat {count}); echo $((n + 1)) > {count}\n"
        f'[ "$n" -lt {crashes} ] && kill -SEGV $$\nexit 0\n'
    )
    script.chmod(0o755)


async def test_an_nft_crash_is_retried_and_then_named_by_its_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    _fake_nft(tmp_path, crashes=2)
    await ruleset.apply("table inet t {}\n")  # Debian 12's nft 1.0.6 crashes now and then
    assert (tmp_path / "count").read_text().strip() == "3"
    _fake_nft(tmp_path, crashes=99)
    with pytest.raises(NetworkError, match=r"nft crashed \(signal 11\)"):
        await ruleset.apply("table inet t {}\n")
