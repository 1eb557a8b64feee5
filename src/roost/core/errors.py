"""The error tree.

Every error a user can see carries a stable ``code`` (clients branch on it), a ``message`` that
says what happened and what to do, and for API errors an HTTP status::

    RoostError
    ├── ApiError                        -> {"error": {"code", "message"}} with an HTTP status
    │   ├── InvalidInput        400     invalid_input, ...
    │   ├── Unauthenticated     401     unauthenticated
    │   ├── Forbidden           403     forbidden
    │   ├── NotFound            404     not_found
    │   ├── Conflict            409     conflict, spec_version_conflict
    │   ├── Gone                410     resource_version_expired
    │   └── Unavailable         503     unavailable
    └── ReconcileError                  raised inside control loops
        ├── TemporaryError              retried with backoff (``delay`` seconds hint)
        └── PermanentError              the condition says why; no retry until the spec changes

Messages name the object and the way out ("environment X is stopped; start it with
`roost env start X`"), never a stack trace.
"""

from typing import ClassVar


class RoostError(Exception):
    """Base of every error Roost raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ApiError(RoostError):
    """An error that crosses the HTTP API; ``status`` is its HTTP status code."""

    status: ClassVar[int] = 500
    code = "internal"


class InvalidInput(ApiError):
    status = 400
    code = "invalid_input"


class Unauthenticated(ApiError):
    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Gone(ApiError):
    status = 410
    code = "resource_version_expired"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"


API_ERRORS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (InvalidInput, Unauthenticated, Forbidden, NotFound, Conflict, Gone, Unavailable)
}


def api_error(status: int, code: str, message: str) -> ApiError:
    """Rebuild an API error on the client side from a response."""
    cls = API_ERRORS.get(status, ApiError)
    return cls(message, code=code)


class ReconcileError(RoostError):
    """Raised by a control loop step."""

    code = "reconcile_failed"


class TemporaryError(ReconcileError):
    """Try again later; ``delay`` is a hint in seconds."""

    code = "temporary"

    def __init__(self, message: str, *, delay: float = 1.0, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.delay = delay


class PermanentError(ReconcileError):
    """Retrying will not help until the spec (or the host) changes; the status says why."""

    code = "permanent"
