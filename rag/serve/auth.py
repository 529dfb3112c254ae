"""Who may call `rag serve`: bearer keys with per-key rate limits, or the local user.

- Once the keys file holds a key, every /v1 request needs `Authorization: Bearer KEY`
  (401 without a valid one) and is counted against its key's rate limit (429 with
  Retry-After past it).
- While it holds none, the server was bound to 127.0.0.1 (`server.run` sees to that)
  and answers only requests that come from a loopback address, name a loopback host
  (a DNS-rebinding page has its own name there) and, from a browser, come from an
  origin in `serve.cors_origins` or the server's own: a web page the user visits cannot
  post files to a keyless local server.

Keys are never logged, echoed in an error or kept in memory beyond the request (only
their hashes are stored).

What it does not do: parse the keys file (`keys`) or count requests (`ratelimit`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rag.chat.users import is_loopback

from .errors import ApiError

bearer = HTTPBearer(
    auto_error=False,
    description="A key from `rag keys add NAME`; not needed while the server has no keys.",
)


def _unauthorized(message: str, code: str) -> ApiError:
    return ApiError(
        401,
        message,
        type="authentication_error",
        code=code,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _local_only(request: Request, origins: list[str]) -> None:
    client = request.client.host if request.client else None
    if not is_loopback(client):
        raise _unauthorized(
            "this server has no API keys, so it answers 127.0.0.1 only; on the server, "
            "`rag keys add NAME` makes a key to send as Authorization: Bearer KEY",
            "no_keys_configured",
        )
    host = request.headers.get("host", "")
    if not is_loopback(urlparse("//" + host).hostname):
        raise ApiError(
            403,
            f"Host {host!r} is not a loopback name; a server without API keys answers "
            "requests to localhost or 127.0.0.1 only",
            type="permission_error",
            code="host_not_allowed",
        )
    origin = request.headers.get("origin")
    foreign = origin and origin != "null" and origin not in origins
    if foreign and urlparse(origin).netloc.lower() != host.lower():
        raise ApiError(
            403,
            f"origin {origin} may not call this server; add it to serve.cors_origins "
            "(RAG_SERVE__CORS_ORIGINS) if it should",
            type="permission_error",
            code="origin_not_allowed",
        )


async def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's key name ('local' without keys); raises 401/403/429 otherwise."""
    state: Any = request.app.state.rag
    serve = state.settings.serve
    if not state.keys.required:
        _local_only(request, serve.cors_origins)
        request.state.key_name = "local"
        return "local"
    if credentials is None:
        raise _unauthorized(
            "missing API key: send the header Authorization: Bearer KEY "
            "(`rag keys add NAME` on the server makes one)",
            "missing_api_key",
        )
    entry = state.keys.check(credentials.credentials)
    if entry is None:
        raise _unauthorized(
            "the API key is not valid; check it, or make a new one with `rag keys add NAME`",
            "invalid_api_key",
        )
    request.state.key_name = entry.name
    per_min = entry.rate_limit_per_min or serve.rate_limit_per_min
    wait = state.rate.take(entry.name, per_min)
    if wait > 0:
        retry = state.rate.retry_after(wait)
        raise ApiError(
            429,
            f"rate limit of {per_min} requests per minute reached for key {entry.name!r}; "
            f"retry after {retry} s",
            type="rate_limit_error",
            code="rate_limit_exceeded",
            headers={"Retry-After": retry},
        )
    return entry.name
