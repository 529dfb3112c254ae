"""Errors of `rag serve`, in OpenAI's shape, with one table from core error to status.

Every error answers `{"error": {"message", "type", "param", "code"}}` (what the
`openai` SDK, litellm and OpenAI-compatible chat clients parse), with the status code a
client acts on: 400 a bad request, 401 no or a wrong key, 404 an unknown model or path,
413 a body too large, 429 too many requests (with Retry-After), 503 while the index
is missing or cannot be read (with Retry-After), 504 past the request's deadline, 507
when the server cannot write (a full disk, a read-only folder).

`STATUS` maps the core's typed errors (`rag.errors`) to a status, by class: an error
maps through its nearest listed base class, so a new subclass of `IndexCorruptError`
(a damaged index) is a 503 with no change here; a new direct subclass of `RagError`
gets one line in `STATUS`, or is a 500 that still shows its one-line message.

What it does not do: decide who may call (see `auth`) or log request bodies.
"""

from __future__ import annotations

import logging
from typing import Any

from rag.errors import (
    ConfigError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    InputError,
    ModelError,
    RagError,
    UsageError,
)

log = logging.getLogger("rag.serve")

# core error class → (HTTP status, OpenAI error type, code); the nearest base class wins
STATUS: dict[type[RagError], tuple[int, str, str]] = {
    UsageError: (400, "invalid_request_error", "invalid_request"),
    InputError: (400, "invalid_request_error", "invalid_input"),
    IndexNotFoundError: (503, "service_unavailable", "index_not_found"),
    IndexMismatchError: (503, "service_unavailable", "index_mismatch"),
    IndexBusyError: (503, "service_unavailable", "index_busy"),
    IndexCorruptError: (503, "service_unavailable", "index_unreadable"),
    IndexWriteError: (507, "server_error", "index_write_failed"),  # disk full, read-only
    ModelError: (502, "api_error", "model_error"),
    ConfigError: (500, "server_error", "config_error"),
    RagError: (500, "server_error", "internal_error"),
}
RETRY_AFTER_S = {503: 5}  # a missing index may be built meanwhile; a client may retry


class ApiError(Exception):
    """An error answered as is: status, OpenAI type and code, one-line message."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.code, self.param, self.headers = code, param, headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code, self.param)


def error_body(
    message: str, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def from_rag_error(e: RagError) -> ApiError:
    """The ApiError for a core error, through the nearest class listed in STATUS."""
    for cls in type(e).__mro__:
        if cls in STATUS:
            status, kind, code = STATUS[cls]  # type: ignore[index]
            break
    else:  # pragma: no cover - RagError itself is listed
        status, kind, code = 500, "server_error", "internal_error"
    headers = {"Retry-After": str(RETRY_AFTER_S[status])} if status in RETRY_AFTER_S else {}
    return ApiError(status, str(e), type=kind, code=code, headers=headers)


def not_found_model(name: str, offered: list[str]) -> ApiError:
    return ApiError(
        404,
        f"model {name!r} does not exist here; use one of {', '.join(offered)} "
        "(GET /v1/models lists them)",
        type="invalid_request_error",
        code="model_not_found",
        param="model",
    )


def too_large(what: str, limit: str, setting: str) -> ApiError:
    return ApiError(
        413,
        f"{what} is larger than {limit}; send less, or raise {setting} on the server",
        code="request_too_large",
    )


def deadline(seconds: float) -> ApiError:
    return ApiError(
        504,
        f"the request took longer than its deadline of {seconds:g} s; try again, or raise "
        "serve.request_timeout_s (RAG_SERVE__REQUEST_TIMEOUT_S) on the server",
        type="server_error",
        code="timeout",
    )


# --------------------------------------------------------------------------- FastAPI


def install_handlers(app: Any) -> None:
    """Answer every error, FastAPI's own included, in the OpenAI shape."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    def respond(e: ApiError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status, headers=e.headers)

    @app.exception_handler(ApiError)
    async def _api(request: Any, e: ApiError) -> JSONResponse:
        return respond(e)

    @app.exception_handler(RagError)
    async def _rag(request: Any, e: RagError) -> JSONResponse:
        err = from_rag_error(e)
        if err.status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, e)
        return respond(err)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Any, e: RequestValidationError) -> JSONResponse:
        return respond(validation_error(e.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Any, e: HTTPException) -> JSONResponse:
        kinds = {404: "not_found_error", 405: "invalid_request_error"}
        msg = str(e.detail)
        if e.status_code == 404 and msg == "Not Found":
            msg = f"no such path: {request.method} {request.url.path}; see /docs or /openapi.json"
        headers = dict(e.headers or {})
        if e.status_code == 405:
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            msg = (
                f"method {request.method} is not allowed on {request.url.path}; "
                f"use {', '.join(allowed)}"
            )
        kind = kinds.get(e.status_code, "invalid_request_error")
        code = {408: "timeout", 413: "request_too_large"}.get(e.status_code)
        return JSONResponse(error_body(msg, kind, code), status_code=e.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _bug(request: Any, e: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(
            error_body("internal server error; the server log has the details", "server_error"),
            status_code=500,
        )


def _allowed_methods(request: Any) -> list[str]:
    """Every method some route takes on this path (Starlette names only the first
    route's, and GET and POST /v1/documents are two routes)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def validation_error(errors: Any) -> ApiError:
    """One line for the first problem of a request FastAPI could not parse."""
    err = next(iter(errors), {}) if errors else {}
    loc = [str(p) for p in err.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        loc = loc[1:]
    where = ".".join(loc)
    kind = err.get("type", "")
    if kind == "json_invalid":
        ctx = err.get("ctx") or {}
        detail = ctx.get("error") or err.get("msg", "")
        return ApiError(
            400,
            f"the request body is not valid JSON ({detail}); send a JSON object",
            code="invalid_json",
        )
    if kind == "missing":
        msg = f"{where or 'the request body'} is missing"
        if not where:
            msg += "; send a JSON object with Content-Type: application/json"
        return ApiError(400, msg, param=where or None, code="missing_field")
    if kind in ("model_attributes_type", "dict_type") and not where:
        return ApiError(400, "the request body must be a JSON object", code="invalid_json")
    msg = str(err.get("msg", "invalid value"))
    return ApiError(
        400,
        f"{where or 'the request'}: {msg}" + _given(err),
        param=where or None,
        code="invalid_value",
    )


def _given(err: dict[str, Any]) -> str:
    if "input" not in err:
        return ""
    text = repr(err["input"])
    return f" (got {text[:60]}{'…' if len(text) > 60 else ''})"
