"""What a failure leaves: capacity released, a start that retries it, logs still readable."""

from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def _placed(plane: PlaneHarness, runner: FakeRunner) -> dict:  # type: ignore[type-arg]
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await plane.schedule()
    env = (await plane.admin.get(f"/api/v1/environments/{env['metadata']['id']}")).json()
    assert env["status"]["runner_id"] == runner.id
    return env  # type: ignore[no-any-return]


async def test_a_failed_start_releases_cpu_and_memory_but_keeps_its_disk(
    plane: PlaneHarness,
) -> None:
    runner = await FakeRunner(plane).register()
    env = await _placed(plane, runner)
    failed = await runner.report(env, "failed", message="build failed")
    assert failed.status_code == 200
    listed = (await plane.admin.get("/api/v1/runners")).json()["items"][0]["allocated"]
    assert listed["cpu"] == 0 and listed["memory_mib"] == 0
    assert listed["environments"] == 1 and listed["disk_gib"] > 0  # its files stay there

    env_id = env["metadata"]["id"]
    retried = (await plane.admin.post(f"/api/v1/environments/{env_id}/start")).json()
    assert retried["spec"]["spec_version"] == env["spec"]["spec_version"] + 1


async def test_start_retries_a_failed_hook_of_a_running_environment(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    env = await _placed(plane, runner)
    env_id = env["metadata"]["id"]
    hook = {"phase": "failed", "message": "postCreateCommand failed", "details": {"hook": "x"}}
    await runner.report(env, "running", conditions={"devcontainer": hook})
    retried = (await plane.admin.post(f"/api/v1/environments/{env_id}/start")).json()
    assert retried["spec"]["spec_version"] == env["spec"]["spec_version"] + 1
    ready = {"phase": "ready", "message": "ready"}
    await runner.report(retried, "running", conditions={"devcontainer": ready})
    again = (await plane.admin.post(f"/api/v1/environments/{env_id}/start")).json()
    assert again["spec"]["spec_version"] == retried["spec"]["spec_version"]  # nothing to retry


async def test_logs_are_readable_while_building_or_failed(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane, access_url="http://runner.test:1").register()
    env = await _placed(plane, runner)
    env_id = env["metadata"]["id"]
    for phase in ("creating", "failed"):
        await runner.report(env, phase)
        logs = await plane.admin.post(f"/api/v1/environments/{env_id}/exec?purpose=logs")
        assert logs.status_code == 200, logs.text
        shell = await plane.admin.post(f"/api/v1/environments/{env_id}/exec")
        assert shell.status_code == 409  # a shell needs it running


async def test_a_refused_exec_into_someone_elses_environment_is_audited(
    plane: PlaneHarness,
) -> None:
    await FakeRunner(plane, access_url="http://runner.test:1").register()
    member = await plane.user("mia")
    env = (await member.post("/api/v1/environments", json={})).json()
    env_id = env["metadata"]["id"]
    refused = await plane.admin.post(f"/api/v1/environments/{env_id}/exec")
    assert refused.status_code == 403
    trail = (await plane.admin.get("/api/v1/audit")).json()["items"]
    denied = [e for e in trail if e["action"] == "environment.exec" and e["target_id"] == env_id]
    assert [e["outcome"] for e in denied] == ["denied"]
    assert denied[0]["details"]["reason"] == "not the owner"
