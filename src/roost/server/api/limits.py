"""The request body limit: no request body is larger than :data:`MAX_BODY` (1 MiB).

Checked at the ASGI layer, before FastAPI reads the body: a declared ``Content-Length`` over the
limit is refused at once (413 ``body_too_large``); a body sent without one is counted as it
arrives and cut off at the limit (FastAPI then answers 400). Field-level limits are the schemas'
(``core/schemas/base.py``).
"""

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise BodyTooLarge
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send) -> None:
        body: dict[str, Any] = {"error": {"code": "body_too_large", "message": (
            f"the request body is larger than {self.limit // 1024} KiB")}}  # fmt: skip
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": data})
