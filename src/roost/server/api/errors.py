"""Exception → response mapping. Validation errors become 400 ``invalid_input`` with a message
that names each bad field, so the CLI can print it as-is."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from roost.core.errors import ApiError
from roost.server.services import availability

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
        return error_response(400, "invalid_input", "; ".join(parts) or "invalid request")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if availability.database_unavailable(exc):
            return database_unavailable(exc)
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal", "internal error; the server log has details")

    for kind in (SQLAlchemyError, OSError):
        # Handled here rather than by the catch-all above, which Starlette re-raises to the
        # server (a traceback per request during an outage).
        app.add_exception_handler(kind, _unexpected)


def database_unavailable(exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    response = error_response(503, "database_unavailable", availability.MESSAGE)
    response.headers["Retry-After"] = str(int(availability.RETRY_SECONDS))
    return response
