"""The API against its own OpenAPI document, fuzzed with schemathesis: a real ``roost server``
with two organizations' data, requests with real tokens, bounded to about two minutes.

Holds the API to: no server errors (5xx), every status and body as documented (the statuses
``server/api/openapi.py`` declares, the error body on errors, the response models on success).
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.live import LiveServer, live_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BUDGET_SECONDS = 110.0
EXAMPLES = 10


@dataclass
class Tenants:
    url: str
    tokens: dict[str, str]
    """``admin``, ``alice`` (owner of org a), ``bob`` (member of org b), ``runner``."""


def _post(http: httpx.Client, path: str, body: object, token: str) -> dict[str, object]:
    r = http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 201), (path, r.text)
    return r.json()  # type: ignore[no-any-return]


def _tenants(server: LiveServer) -> Tenants:
    admin = server.admin_token
    tokens = {"admin": admin}
    with httpx.Client(base_url=f"{server.url}/api/v1") as http:
        for user, org, role in (("alice", "org-a", "owner"), ("bob", "org-b", "member")):
            _post(http, "/organizations", {"name": org}, admin)
            made = _post(http, "/users", {"name": user}, admin)
            _post(http, f"/organizations/{org}/members", {"user": made["id"], "role": role}, admin)
            token = _post(http, "/tokens", {"user": made["id"]}, admin)["secret"]
            tokens[user] = str(token)
            _post(http, "/environments", {"organization": org, "spec": {}}, tokens[user])
            _post(http, f"/projects?organization={org}", {"name": f"{user}-app"}, admin)
        registration = _post(http, "/runners/registration-tokens", {}, admin)["secret"]
        runner = _post(http, "/runners/register", {"registration_token": registration,
                                                   "name": "fuzz-runner"}, admin)  # fmt: skip
        tokens["runner"] = str(runner["token"])
    return Tenants(server.url, tokens)


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    data: Path = tmp_path_factory.mktemp("fuzz")
    with live_server(data / "plane") as server:
        yield _tenants(server)


def _fuzz(operation: object, url: str, token: str, failures: list[str]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy())  # type: ignore[attr-defined]
    def run(case: schemathesis.Case) -> None:
        if case.path == "/api/v1/watch" and isinstance(case.query, dict):
            case.query["timeout"] = 0  # a long poll: answer now, not in a minute
        response = case.call(base_url=url, headers={"Authorization": f"Bearer {token}"})
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # every operation's failures are collected
        failures.append(f"{operation}: {str(exc)[:2000]}")


def test_the_api_keeps_its_openapi_document(tenants: Tenants) -> None:
    schema = schemathesis.openapi.from_url(f"{tenants.url}/api/v1/openapi.json")
    failures: list[str] = []
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    for i, operation in enumerate(operations):
        if time.monotonic() - started > BUDGET_SECONDS:  # a slow machine: fuzz less, not longer
            assert i > len(operations) // 2, f"only {i} of {len(operations)} operations fuzzed"
            break
        who = "runner" if "/runners/{runner_id}" in operation.path else ("alice", "bob")[i % 2]
        _fuzz(operation, tenants.url, tenants.tokens[who], failures)
    assert failures == [], "\n\n".join(failures)
