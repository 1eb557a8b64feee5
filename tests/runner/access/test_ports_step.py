"""The ports step publishes endpoints and the ports condition from the spec."""

from pathlib import Path
from typing import Any

from roost.core.schemas.environments import Environment
from roost.runner.ports import AccessAddresses, PortsStep
from roost.runner.runtime.fake import FakeDriver
from roost.runner.state import LocalEnv
from roost.runner.steps import StepContext

ENV = "0123456789abcdefghjk"


def environment(ports: list[dict[str, Any]]) -> Environment:
    return Environment.model_validate(
        {
            "metadata": {
                "id": ENV,
                "name": "dev",
                "organization_id": "o",
                "owner_id": "u",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            },
            "spec": {"ports": ports},
            "status": {},
        }
    )


async def test_endpoints_and_condition(tmp_path: Path) -> None:
    step = PortsStep(AccessAddresses("http://runner.lan:8081", "runner.lan", "runner.lan:2222"))
    reports: list[tuple[Any, ...]] = []

    async def report(part: str, phase: str, message: str, **details: Any) -> None:
        reports.append((part, phase, message, details))

    env = environment([{"port": 3000, "admission": "public"}, {"port": 8000}])
    ctx = StepContext(env=env, driver=FakeDriver(), local=None, workspace=tmp_path, report=report)
    await step.after_start(ctx)
    [(part, phase, message, details)] = reports
    assert (part, phase, message) == ("ports", "ready", "3000 (public), 8000 (owner)")
    endpoints = details["endpoints"]
    assert endpoints.ssh == f"ssh://{ENV}@runner.lan:2222"
    assert endpoints.ports == {
        "3000": f"http://3000-{ENV}.runner.lan:8081/",
        "8000": f"http://8000-{ENV}.runner.lan:8081/",
    }
    assert PortsStep.summary(environment([])) == "no ports open"


async def test_devcontainer_forward_ports_open_at_owner_admission(tmp_path: Path) -> None:
    step = PortsStep(AccessAddresses("http://127.0.0.1:8081", "localhost", None))
    reports: list[dict[str, Any]] = []

    async def report(part: str, phase: str, message: str, **details: Any) -> None:
        reports.append({"message": message, **details})

    env = environment([{"port": 8000, "admission": "public"}])
    local = LocalEnv(env_id=ENV)
    local.devcontainer = {"forwardPorts": [3000, "localhost:4000", "db:5432", 8000, 3000]}
    ctx = StepContext(env=env, driver=FakeDriver(), local=local, workspace=tmp_path, report=report)
    await step.after_start(ctx)
    [done] = reports
    assert done["forwarded"] == [3000, 4000]
    assert (
        done["message"] == "8000 (public), 3000 (owner, forwardPorts), 4000 (owner, forwardPorts)"
    )
    assert set(done["endpoints"].ports) == {"8000", "3000", "4000"}
    assert done["endpoints"].ssh is None
