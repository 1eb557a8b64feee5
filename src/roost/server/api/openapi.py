"""The OpenAPI document says what the API really answers.

Every operation may answer with the error body (``{"error": {"code", "message"}}``) for the
statuses in :data:`ERRORS` -- FastAPI's default 422 is never sent (validation errors are 400,
``errors.py``), so it is taken out of the document. ``tests/server/test_api_fuzz.py`` holds the
API to this document with schemathesis.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from roost.core.schemas.base import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Invalid input; the message names the field"),
        (401, "No token, or not a valid one for this route"),
        (403, "Authenticated, but not allowed"),
        (404, "Not found, or not visible to the caller"),
        (409, "Conflicts with the current state (stale version, quota, name taken...)"),
        (413, "The request body is too large"),
    )
}
WATCH_GONE = {"description": "The version is older than the change log keeps; list again"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes,
                description=app.description,
            )  # fmt: skip
            _drop_422(schema)
            watch = schema["paths"].get("/api/v1/watch", {}).get("get")
            if watch is not None:
                watch["responses"]["410"] = {**WATCH_GONE, **_error_content(schema)}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _drop_422(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def _error_content(schema: dict[str, Any]) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {"content": {"application/json": {"schema": ref}}}
