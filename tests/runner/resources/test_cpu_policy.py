"""The CPU policy's arithmetic: shares, buckets, limits."""

import pytest

from roost.runner.cpu import policy
from roost.runner.cpu.policy import Sample, decide, scale

DT = policy.TICK_SECONDS


def run(samples: list[Sample], budget: float, seconds: float, cpus: float = 2.0) -> list[float]:
    """Limits of the first environment over ``seconds`` with constant usage."""
    limits = []
    for _ in range(round(seconds / DT)):
        d = decide(samples[0], budget, scale(samples, cpus), cpus, DT)
        budget = d.budget
        limits.append(d.limit)
    return limits


def test_idle_environments_do_not_dilute_shares() -> None:
    idle = [Sample(weight=2, used=0.0, active=False)] * 500
    assert scale([Sample(2, 1.9), *idle], cpus=2) == 1.0
    assert scale([Sample(2, 1.9), Sample(2, 0.02)], cpus=2) == 0.5  # a shell counts


def test_an_empty_bucket_demotes_until_it_refills_a_quarter() -> None:
    d = decide(Sample(1, 2.0), 0.1, 1.0, 2.0, DT)
    assert d.budget == 0.0 and d.demoted
    d = decide(Sample(1, 0.6), d.budget, 1.0, 2.0, DT, demoted=True)
    assert d.demoted and d.budget == pytest.approx(0.2)  # a quarter of 2 CPU-s: not yet
    d = decide(Sample(1, 0.0), d.budget, 1.0, 2.0, DT, demoted=True)
    assert not d.demoted and d.budget == pytest.approx(0.7)


def test_a_spinner_is_brought_to_its_share_within_seconds() -> None:
    spinner, neighbour = Sample(weight=2, used=2.0), Sample(weight=2, used=0.2)
    limits = run([spinner, neighbour], policy.capacity(2), seconds=10)
    assert limits[0] == 2.0  # a full bucket: the whole host
    held = next(i for i, limit in enumerate(limits) if limit <= 1.0 + 1e-9) * DT
    assert held <= 4.5  # BURST_SECONDS * weight / (used - share) = 4 s
    assert all(limit == pytest.approx(1.0) for limit in limits[round(held / DT) :])


def test_a_lone_environment_keeps_its_whole_class() -> None:
    limits = run([Sample(weight=2, used=2.0)], policy.capacity(2), seconds=30)
    assert min(limits) == 2.0


def test_the_bucket_refills_while_idle() -> None:
    d = decide(Sample(1, 0.0), 0.0, 1.0, 2.0, DT)
    assert d.budget == pytest.approx(1.0 * DT)
    for _ in range(20):
        d = decide(Sample(1, 0.0), d.budget, 1.0, 2.0, DT)
    assert d.budget == policy.capacity(1)
    assert d.limit == 2.0


def test_a_spiky_workload_is_never_held() -> None:
    """Bursts of two CPUs for 1 s every 2.5 s, class 1: the budget covers every burst."""
    budget, limits = policy.capacity(1), []
    for t in range(200):
        used = 2.0 if (t * DT) % 2.5 < 1.0 else 0.0
        d = decide(Sample(1, used), budget, 1.0, 2.0, DT)
        budget = d.budget
        limits.append(d.limit)
    assert min(limits) == 2.0


def test_budget_is_rebuilt_from_the_limit_written() -> None:
    assert policy.budget_from_limit(2.0, weight=1, cpus=2) == policy.capacity(1)
    assert policy.budget_from_limit(1.0, weight=1, cpus=2) == 0.0
    d = decide(Sample(1, 1.5), 0.5, 1.0, 2.0, DT)
    assert policy.budget_from_limit(d.limit, 1, 2) == pytest.approx(d.budget)


def test_the_limit_never_goes_below_the_kernel_floor() -> None:
    d = decide(Sample(0.001, 5.0), 0.0, 0.5, 2.0, DT)
    assert d.limit == policy.MIN_LIMIT_CPU
