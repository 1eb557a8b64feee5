"""A small synchronous API client for the CLI (the runner has its own async one)."""

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from roost.cli.waiting import describe
from roost.core.errors import RoostError, Unavailable, api_error
from roost.core.schemas.environments import Environment
from roost.core.schemas.watch import WatchResponse


class Client:
    def __init__(self, url: str, token: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call. A plane that is down, or up but not answering (paused, overloaded),
        fails it within seconds with a message that says so -- ``ssh`` and ``exec`` used to
        hang without a word during an outage. Only watches wait longer (their own timeout)."""
        try:
            response = self._http.request(method, "/api/v1" + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise Unavailable(
                f"the Roost server at {self.url} did not answer in time ({type(exc).__name__}); "
                "it may be down or overloaded: try again in a moment"
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                f"cannot reach the Roost server at {self.url} ({exc}); is it running?"
            ) from exc
        if response.status_code >= 400:
            raise error_of(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def create(self, path: str, body: Any, attempts: int = 4) -> Any:
        """POST a create with an ``Idempotency-Key`` (one per invocation), and send it again if
        the connection fails: a plane that died as it answered may have created the object,
        and the key makes the retry answer with that one instead of making a second."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(attempts - 1):
            try:
                return self.request("POST", path, json=body, headers=headers)
            except Unavailable:
                time.sleep(0.5 * 2**attempt)
        return self.request("POST", path, json=body, headers=headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("POST", path, json=body, params=clean)

    def list_all(self, path: str, **params: Any) -> list[Any]:
        items: list[Any] = []
        cursor = None
        while True:
            page = self.get(path, cursor=cursor, limit=500, **params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def wait_for_environment(
        self, env_id: str, done: Callable[[Environment | None], bool], timeout: float
    ) -> Environment | None:
        """Watch one environment until ``done`` says so (``None`` = it no longer exists)."""
        deadline = time.monotonic() + timeout
        version = self.get("/watch", kind="environment", timeout=0)["resource_version"]
        env = self._get_env(env_id)
        while not done(env):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RoostError(f"timed out waiting for environment {env_id}; it is {_phase(env)}")
            wait = min(remaining, 30)
            params = {"kind": "environment", "since": version, "timeout": wait}
            result = WatchResponse.model_validate(
                self.request("GET", "/watch", params=params,
                             timeout=httpx.Timeout(wait + 15.0, connect=5.0))
            )  # fmt: skip
            version = result.resource_version
            for event in result.events:
                if event.object_id == env_id:
                    env = Environment.model_validate(event.object) if event.object else None
        return env

    def _get_env(self, env_id: str) -> Environment | None:
        try:
            return Environment.model_validate(self.get(f"/environments/{env_id}"))
        except RoostError as exc:
            if exc.code == "not_found":
                return None
            raise


def _phase(env: Environment | None) -> str:
    if env is None:
        return "gone"
    return describe(env)


def error_of(response: httpx.Response) -> RoostError:
    """The plane's (or a runner's) ``{"error": {code, message}}`` answer as an exception."""
    try:
        detail = response.json()["error"]
        return api_error(response.status_code, detail["code"], detail["message"])
    except (ValueError, KeyError, TypeError):
        return api_error(response.status_code, "http_error", f"HTTP {response.status_code}")
