"""Creates are idempotent: the CLI sends an ``Idempotency-Key`` and retries when the plane's
answer is lost, so one command makes one environment (it used to report an error and make a
second environment when run again)."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cutproxy import CutFirstAnswer
from tests.support.live import LiveServer, live_server, run_cli


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("plane")) as s:
        yield s


def count(server: LiveServer) -> int:
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    items = httpx.get(f"{server.url}/api/v1/environments", headers=headers).json()["items"]
    return len(items)


def test_a_lost_answer_is_retried_and_makes_one_environment(
    server: LiveServer, tmp_path: Path
) -> None:
    before = count(server)
    with CutFirstAnswer(int(server.url.rsplit(":", 1)[1])) as proxy:
        env = {"ROOST_URL": f"http://127.0.0.1:{proxy.port}", "ROOST_TOKEN": server.admin_token,
               "ROOST_CONFIG": str(tmp_path / "c.json")}  # fmt: skip
        result = run_cli("env", "create", "--name", "once", "-o", "json", env=env)
        assert proxy.cut == 1
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metadata"]["name"] == "once"
    assert count(server) == before + 1


def test_same_key_same_answer_other_body_refused(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {server.admin_token}", "Idempotency-Key": "k-1"}
    url = f"{server.url}/api/v1/environments"
    first = httpx.post(url, json={"name": "keyed"}, headers=headers)
    again = httpx.post(url, json={"name": "keyed"}, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["metadata"]["id"] == again.json()["metadata"]["id"]
    other = httpx.post(url, json={"name": "other"}, headers=headers)
    assert other.status_code == 409 and "different request" in other.text
