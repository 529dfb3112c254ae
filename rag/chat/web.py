"""What the chat adds to chainlit's web server; the only module of `rag.chat` that
imports chainlit (`app.py` calls `install` once, before the server starts).

- **Local sign-in without the bounce.** With header auth, chainlit's page loads, finds no
  session, navigates to /login, signs in there and navigates back: / → /login → / →
  /login → / and about 3 s of blank page, and a `/thread/<id>` link opened in a new
  browser ends on an empty new chat. For the local user (`users.local_request`) the
  page response itself now carries the session cookie, so the first load is signed in.
- **Citation previews.** `GET /rag/citation?message=ID&n=N` returns the props of the
  answer's `[n]` (what the side panel shows) for the hover preview in `public/chat.js`:
  from the chat database (also resumed conversations, another worker), else from a small
  in-memory cache of recent answers whose elements chainlit has not written yet. Only
  the conversation's owner may read them.
- **Settings on a restored session.** chainlit's page may replace its socket before it
  read what on_chat_start sent; the settings are sent again on the new one.
- **Quieter logs.** chainlit logs "Translated markdown file for en-US not found" on every
  page load, and LiteLLM's lines come twice (its own handler, then the root's).

What it does not do: answer, render messages or decide who may sign in (see `users`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from chainlit.auth import get_current_user
from fastapi import Depends, HTTPException, Query

log = logging.getLogger("rag.chat")

PREVIEW_PATH = "/rag/citation"
_CACHE_SIZE = 500  # answers whose citations are kept in memory


class CitationCache:
    """message id → (owner, {n: props}) for the most recent answers (thread-safe)."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str | None, dict[int, dict[str, Any]]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, message_id: str, owner: str | None, props: dict[int, dict[str, Any]]) -> None:
        with self._lock:
            self._items[message_id] = (owner, props)
            self._items.move_to_end(message_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, message_id: str, n: int) -> tuple[str | None, dict[str, Any]] | None:
        with self._lock:
            hit = self._items.get(message_id)
        if hit is None or n not in hit[1]:
            return None
        return hit[0], hit[1][n]


CITATIONS = CitationCache()


# --------------------------------------------------------------------------- sign-in


def _has_valid_session(request: Any) -> bool:
    from chainlit.auth import get_token_from_cookies
    from chainlit.auth.jwt import decode_jwt

    token = get_token_from_cookies(request.cookies)
    if not token:
        return False
    try:
        decode_jwt(token)
    except Exception:  # expired, or signed with another secret
        return False
    return True


class LocalSignIn:
    """ASGI middleware: a page request (GET, Accept: text/html) from the local user with
    no valid session gets the session cookie on its response. Everything else (the API,
    socket.io's long polling, websockets) passes through untouched: a plain ASGI wrapper,
    not Starlette's BaseHTTPMiddleware, which would sit in every streamed response."""

    def __init__(
        self, app: Any, local_user: Callable[[], Any], is_local: Callable[[Any], bool]
    ) -> None:
        self.app, self.local_user, self.is_local = app, local_user, is_local

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "GET":
            return await self.app(scope, receive, send)
        from starlette.requests import Request

        request = Request(scope)
        if (
            "text/html" not in request.headers.get("accept", "")
            or not self.is_local(request.headers)
            or _has_valid_session(request)
        ):
            return await self.app(scope, receive, send)
        from chainlit.auth import create_jwt, set_auth_cookie
        from starlette.responses import Response

        holder = Response()
        set_auth_cookie(request, holder, create_jwt(self.local_user()))
        cookies = [(k, v) for k, v in holder.raw_headers if k.lower() == b"set-cookie"]

        async def send_with_cookie(message: Any) -> None:
            if message.get("type") == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cookies]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


# --------------------------------------------------------------------------- previews


async def _from_database(message_id: str, n: int) -> tuple[str | None, dict[str, Any]] | None:
    from chainlit.data import get_data_layer

    layer = get_data_layer()
    execute = getattr(layer, "execute_sql", None)
    if execute is None:
        return None
    rows = await execute(
        'SELECT e."props" AS props, t."userIdentifier" AS owner FROM elements e '
        'JOIN threads t ON t."id" = e."threadId" WHERE e."forId" = :mid AND e."name" = :name',
        {"mid": message_id, "name": f"[{n}]"},
    )
    if not isinstance(rows, list) or not rows:
        return None
    props = rows[0].get("props")
    if isinstance(props, str):
        try:
            props = json.loads(props)
        except ValueError:
            return None
    return (rows[0].get("owner"), props) if isinstance(props, dict) else None


def _preview_route(require_owner: bool) -> Callable[..., Awaitable[Any]]:
    async def citation(
        message: Annotated[str, Query(min_length=1, max_length=64)],
        n: Annotated[int, Query(ge=1, le=999)],
        user: Annotated[Any, Depends(get_current_user)],
    ) -> dict[str, Any]:
        # the database first (resumed threads, other workers); the cache holds an
        # answer whose elements chainlit has not written yet
        found = await _from_database(message, n) or CITATIONS.get(message, n)
        if found is None:
            raise HTTPException(status_code=404, detail="no such citation")
        owner, props = found
        me = getattr(user, "identifier", None)
        if require_owner and (me is None or owner != me):
            raise HTTPException(status_code=404, detail="no such citation")
        return props

    return citation


# --------------------------------------------------------------------------- restored sessions


def resend_settings_on_restore(send_settings: Callable[[], Awaitable[None]]) -> None:
    """Send the chat's settings again when chainlit restores a session on a new socket.

    chainlit's page opens its socket again whenever its config or chat profile changes
    (a 200 ms debounce), and a busy server answers the profile's config later than that:
    the page then closes its first socket, maybe before reading what on_chat_start sent
    there (the settings), and opens a second one for the same session. chainlit restores
    the session on it without running anything (on_chat_start has run), so the settings
    were lost: no gear, and tests that wait for it time out. Safe to call again."""
    import chainlit.socket  # noqa: F401  (registers chainlit's socket handlers)
    from chainlit.context import init_ws_context
    from chainlit.server import sio
    from chainlit.session import WebsocketSession

    handlers = sio.handlers.setdefault("/", {})
    original = handlers.get("connection_successful")
    if original is None or getattr(original, "rag_wrapped", False):
        return

    async def connection_successful(sid: str) -> None:
        await original(sid)
        session = WebsocketSession.get(sid)
        if (
            session is not None
            and session.restored
            and session.chat_started
            and not session.has_first_interaction
        ):
            init_ws_context(session)
            await send_settings()

    connection_successful.rag_wrapped = True  # type: ignore[attr-defined]
    handlers["connection_successful"] = connection_successful


# --------------------------------------------------------------------------- logs


class _NoTranslationNotice(logging.Filter):
    """chainlit's "Translated markdown file for en-US not found" on every page load."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Translated markdown file for")


class _LiteLLMOnce(logging.Filter):
    """For the root's handlers: a LiteLLM record was printed by LiteLLM's own handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("LiteLLM") and logging.getLogger(record.name).handlers)


def quiet_logs() -> None:
    chainlit_logger = logging.getLogger("chainlit")
    if not any(isinstance(f, _NoTranslationNotice) for f in chainlit_logger.filters):
        chainlit_logger.addFilter(_NoTranslationNotice())
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _LiteLLMOnce) for f in handler.filters):
            handler.addFilter(_LiteLLMOnce())


# --------------------------------------------------------------------------- install


def install(
    *,
    local_user: Callable[[], Any] | None,
    is_local: Callable[[Any], bool],
    require_owner: bool,
) -> None:
    """Add the sign-in middleware (when `local_user` is given) and the preview route to
    chainlit's app. Safe to call again (chainlit's watch mode reloads app.py)."""
    from chainlit.server import app

    quiet_logs()
    if getattr(app.state, "rag_installed", False):
        return
    if local_user is not None:
        try:
            app.add_middleware(LocalSignIn, local_user=local_user, is_local=is_local)
        except RuntimeError as e:  # the server already runs (a reload): keep the old one
            log.warning("local sign-in not installed: %s", e)
    app.add_api_route(PREVIEW_PATH, _preview_route(require_owner), methods=["GET"])
    # chainlit's catch-all page route would answer first: ours goes to the front
    route = app.router.routes.pop()
    app.router.routes.insert(0, route)
    app.state.rag_installed = True
