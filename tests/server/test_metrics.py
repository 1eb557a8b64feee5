"""``GET /metrics``: what an operator's Prometheus scrapes from the plane."""

from prometheus_client.parser import text_string_to_metric_families

from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def scrape(plane: PlaneHarness) -> dict[str, list[tuple[dict[str, str], float]]]:
    r = await plane.client().get("/metrics")  # no token: like /healthz
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


async def test_metrics_show_phases_routes_heartbeats_and_watch_lag(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane, "r1", region="eu").register()
    assert (await runner.heartbeat()).status_code == 200
    created = (await plane.admin.post("/api/v1/environments", json={"name": "a"})).json()
    env_id = created["metadata"]["id"]
    assert (await plane.admin.get(f"/api/v1/environments/{env_id}")).status_code == 200
    assert (await plane.admin.get("/api/v1/environments/nope")).status_code == 404
    assert [e["object_id"] for e in await runner.watch()] == [env_id]

    m = await scrape(plane)
    assert ({"phase": "pending"}, 1.0) in m["roost_environments"]
    counts = {
        (labels["method"], labels["route"], labels["status"]): value
        for labels, value in m["roost_http_request_duration_seconds_count"]
    }
    assert counts[("GET", "/api/v1/environments/{env_id}", "2xx")] == 1
    assert counts[("GET", "/api/v1/environments/{env_id}", "4xx")] == 1
    assert not any(env_id in route for _, route, _ in counts), "ids never become labels"
    [(labels, age)] = m["roost_runner_heartbeat_age_seconds"]
    assert labels == {"runner": "r1", "region": "eu", "state": "online"} and age >= 0
    [(_, delivered)] = m["roost_watch_delivery_lag_seconds_count"]
    assert delivered >= 1
