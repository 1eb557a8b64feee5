"""Prometheus metrics of the runner, at ``GET /metrics`` on its access address.

One runner per host process, so one process-wide registry:

- ``roost_runner_start_stage_seconds{stage}``: an environment's start by stage -- ``network``
  (its namespace and veth), ``rootfs`` (root filesystem ready, overlapping the network),
  ``container`` (crun started it);
- ``roost_runner_backup_seconds{kind}``, ``roost_runner_backup_bytes{kind}`` (the snapshot's
  size) and ``roost_runner_backup_failures_total{kind}``;
- ``roost_runner_cpu_loop_tick_seconds`` and ``roost_runner_cpu_loop_environments``: the CPU
  burst loop's tick time and how many environments it tracks.

No token: counts and durations only, nothing that names an environment.
"""

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

REGISTRY = CollectorRegistry()
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

start_stage = Histogram(
    "roost_runner_start_stage_seconds", "Environment start time by stage (cumulative)",
    ["stage"], buckets=SECONDS, registry=REGISTRY,
)  # fmt: skip
backup_seconds = Histogram(
    "roost_runner_backup_seconds", "Backup duration (write and verify)", ["kind"],
    buckets=SECONDS, registry=REGISTRY,
)  # fmt: skip
backup_bytes = Histogram(
    "roost_runner_backup_bytes", "Backed-up size", ["kind"],
    buckets=tuple(float(1 << n) for n in range(20, 41, 2)), registry=REGISTRY,
)  # fmt: skip
backup_failures = Counter(
    "roost_runner_backup_failures", "Backups that failed", ["kind"], registry=REGISTRY
)
cpu_tick = Gauge(
    "roost_runner_cpu_loop_tick_seconds", "Duration of the CPU loop's last tick", registry=REGISTRY
)
cpu_environments = Gauge(
    "roost_runner_cpu_loop_environments", "Environments the CPU loop tracks", registry=REGISTRY
)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
