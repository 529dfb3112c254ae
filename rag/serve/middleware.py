"""ASGI middleware of `rag serve`: body size limits and the access log.

- `BodyLimit`: a body larger than its path's limit gets 413 before it is read (from
  Content-Length) or as soon as it passes the limit (chunked bodies); JSON bodies are
  small (`serve.max_body_kb`), uploads larger (`serve.max_upload_mb`). A body still
  arriving at the request's deadline gets 408 (a slow sender holds no worker for long).
- `AccessLog`: one line per request — method, path, status, milliseconds and the
  caller's key *name* (never the key; query strings are not logged either).

What it does not do: authenticate (`auth`) or parse bodies.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from starlette.exceptions import HTTPException

from .errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("rag.serve.access")


class BodyTooLarge(HTTPException):
    """Raised while a body is read; answered as a 413 in the OpenAI shape."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class BodyTooSlow(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"the request body did not arrive within the request's deadline of {seconds:g} s; "
            "send it at once, or raise serve.request_timeout_s on the server",
        )


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        json_limit: int,
        upload_limit: int,
        upload_paths: tuple[str, ...],
        describe: Callable[[bool], str],
        deadline_s: float,
    ) -> None:
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit
        self.upload_paths, self.describe, self.deadline_s = upload_paths, describe, deadline_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("path", "") in self.upload_paths
        limit = self.upload_limit if upload else self.json_limit
        declared = None
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = None
        if declared is not None and declared > limit:
            await _send_413(send, self.describe(upload))
            return
        seen = 0
        until = time.monotonic() + self.deadline_s

        async def counted() -> Message:
            nonlocal seen
            try:
                with anyio.fail_after(max(0.0, until - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.deadline_s) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(self.describe(upload))
            return message

        await self.app(scope, counted, send)


async def _send_413(send: Send, message: str) -> None:
    body = json.dumps(error_body(message, "invalid_request_error", "request_too_large")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if log.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                client = scope.get("client") or ("-", 0)
                log.info(
                    "%s %s %s %d %.1f ms key=%s",
                    client[0],
                    scope.get("method", "-"),
                    scope.get("path", "-"),
                    status[0],
                    (time.perf_counter() - t0) * 1000,
                    state.get("key_name", "-"),
                )
