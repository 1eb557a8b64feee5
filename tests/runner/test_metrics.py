"""The runner's ``GET /metrics``: start stages, backups and the CPU loop, for Prometheus."""

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from roost.runner import metrics
from roost.runner.access.server import AccessServer
from roost.runner.runtime.fake import FakeDriver
from tests.support.live import free_port


async def test_the_runner_serves_its_metrics() -> None:
    metrics.start_stage.labels("container").observe(0.08)
    metrics.backup_failures.labels("stop").inc()
    metrics.cpu_environments.set(3)
    server = AccessServer(FakeDriver(), verify=None)  # type: ignore[arg-type]
    port = free_port()
    await server.start("127.0.0.1", port)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/metrics") as r,
        ):
            assert r.status == 200
            text = await r.text()
    finally:
        await server.stop()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("roost_runner_start_stage_seconds_count", (("stage", "container"),))] >= 1
    assert samples[("roost_runner_backup_failures_total", (("kind", "stop"),))] >= 1
    assert samples[("roost_runner_cpu_loop_environments", ())] == 3
