"""The FastAPI application of `rag serve`: state, middleware, routes.

`create_app(settings)` builds one app around one warm `Pipeline` (`Service`). Answers
are computed in worker threads, at most `serve.workers` at once (the work is CPU-bound:
more threads than that only make every answer slower); a request waits its turn within
its deadline (`serve.request_timeout_s`), and one past it gets 504. An LLM answer's own
deadline is cut to what is left of the request's.

Routes: `chat` (OpenAI-compatible: /v1/models, /v1/chat/completions) and `rest`
(/v1/ask, /v1/documents, /v1/jobs, /healthz). Every /v1 route needs a key once keys
exist (`auth`).

What it does not do: bind sockets or parse the command line (`server`, `cli`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from rag import __version__ as VERSION
from rag.config import Settings
from rag.errors import RagError

from . import errors
from .auth import authorize
from .jobs import Jobs
from .keys import KeyStore
from .middleware import AccessLog, BodyLimit
from .ratelimit import RateLimiter
from .service import Service

log = logging.getLogger("rag.serve")
T = TypeVar("T")
UPLOAD_PATHS = ("/v1/documents",)


class State:
    """What every request shares: the service, keys, limits, jobs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.service = Service(settings)
        self.keys = KeyStore(settings.serve.keys_file)
        self.rate = RateLimiter()
        self.workers = anyio.CapacityLimiter(settings.serve.workers)
        self.uploads = Path(settings.serve.uploads_dir or Path(settings.index.dir) / "uploads")
        self._jobs: Jobs | None = None

    @property
    def jobs(self) -> Jobs:
        if self._jobs is None:  # the worker thread starts with the first upload
            self._jobs = Jobs(self.settings, self.uploads)
        return self._jobs

    def deadline(self) -> float:
        return time.monotonic() + self.settings.serve.request_timeout_s

    async def call(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in a worker thread, within the request's deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.deadline(self.settings.serve.request_timeout_s)
        try:
            with anyio.fail_after(remaining):
                return await anyio.to_thread.run_sync(
                    fn, *args, limiter=self.workers, abandon_on_cancel=True
                )
        except TimeoutError:
            raise errors.deadline(self.settings.serve.request_timeout_s) from None

    def warm(self) -> None:
        """Open the index, load the query encoder and (for an LLM) import litellm before
        the first question."""
        from rag.config import OFFLINE_MODEL

        if self.settings.llm.model != OFFLINE_MODEL or self.settings.serve.models:
            from rag.llm import import_litellm

            import_litellm()
        try:
            self.service.pipeline.retrieve("warm up", 1)
        except RagError as e:  # answered as 503 (or the like) until it is fixed
            log.warning("not ready: %s", e)

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.close()


def create_app(settings: Settings, *, warm: bool = True) -> FastAPI:
    from . import chat, rest

    state = State(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            await anyio.to_thread.run_sync(state.warm)
        yield
        await anyio.to_thread.run_sync(state.close)

    app = FastAPI(
        title="rag",
        version=VERSION,
        summary="Answers from news articles with citations, over an OpenAI-compatible API.",
        description=(
            "`POST /v1/chat/completions` speaks OpenAI's chat API: the answer carries `[n]` "
            "markers, a Sources footer and a structured `citations` list. The REST routes "
            "ask, list documents and ingest uploads. Send `Authorization: Bearer KEY` once "
            "the server has keys (`rag keys add NAME`)."
        ),
        lifespan=lifespan,
    )
    app.state.rag = state
    errors.install_handlers(app)
    s = settings.serve
    if s.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=s.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "Location"],
            max_age=600,
        )

    def describe(upload: bool) -> str:
        if upload:
            return (
                f"the upload is larger than {s.max_upload_mb:g} MB; send fewer files per "
                "request, or raise serve.max_upload_mb (RAG_SERVE__MAX_UPLOAD_MB) on the server"
            )
        return (
            f"the request body is larger than {s.max_body_kb} KB; send a shorter "
            "conversation, or raise serve.max_body_kb (RAG_SERVE__MAX_BODY_KB) on the server"
        )

    app.add_middleware(
        BodyLimit,
        json_limit=s.max_body_kb * 1024,
        upload_limit=int(s.max_upload_mb * 1024 * 1024),
        upload_paths=UPLOAD_PATHS,
        describe=describe,
        deadline_s=s.request_timeout_s,
    )
    app.add_middleware(AccessLog)
    guarded = [Depends(authorize)]
    app.include_router(chat.router, prefix="/v1", dependencies=guarded)
    app.include_router(rest.router, prefix="/v1", dependencies=guarded)
    app.include_router(rest.health)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema without its 422 responses: bad requests here are 400s in
    OpenAI's shape (`errors.validation_error`)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        for path in spec.get("paths", {}).values():
            for op in path.values():
                op.get("responses", {}).pop("422", None)
        schemas = spec.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        # the limits in force on this server, so clients (and schemathesis) know them
        lim = app.state.rag.settings.limits
        schemas["AskRequest"]["properties"]["question"]["maxLength"] = lim.max_question_chars
        for name in ("AskRequest", "ChatCompletionRequest"):
            top_k = schemas[name]["properties"]["top_k"]
            for option in top_k.get("anyOf", [top_k]):
                if option.get("type") == "integer":
                    option["maximum"] = lim.max_top_k
        app.openapi_schema = spec
    return app.openapi_schema
