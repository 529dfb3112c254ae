"""REST routes: ask, documents (list and upload), ingest jobs, health.

- `POST /v1/ask` returns the `rag ask --json` contract.
- `GET /v1/documents` lists the indexed documents (`limit`, `offset`).
- `POST /v1/documents` takes files (multipart, fields `file` or `files`) or URLs of
  pages, feeds or sitemaps (multipart `url` fields, or JSON `{"urls": [...]}`; not in
  the server's own network unless `serve.allow_private_urls`) and answers 202 with an
  ingest job (`Location: /v1/jobs/<id>`); `GET /v1/jobs/<id>` follows its progress.
- `GET /healthz` (no key needed): 200 while the index answers, 503 otherwise.

What it does not do: ingest in the request (`jobs` does, in the background).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from rag.errors import RagError
from rag.ingest import SUPPORTED
from rag.ingest.web import is_url
from rag.types import Answer

from . import schema
from .errors import ApiError, from_rag_error, too_large

router = APIRouter(
    tags=["REST"],
    responses=schema.error_responses(400, 401, 403, 404, 408, 413, 415, 429, 502, 503, 504),
)
health = APIRouter(tags=["health"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Articles: " + ", ".join(sorted(SUPPORTED)),
                        },
                        "url": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"urls": {"type": "array", "items": {"type": "string"}}},
                    "required": ["urls"],
                }
            },
        },
    }
}


def check_url(url: str, allow_private: bool) -> str:
    """An http(s) URL the server may fetch for a caller (run in a thread: it resolves
    the host). Private, loopback and link-local hosts are refused unless allowed."""
    if not is_url(url):
        raise ApiError(400, f"url {url[:200]!r}: use an http:// or https:// URL", param="urls")
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ApiError(
            400, f"url {url[:200]}: host {host!r} cannot be resolved", param="urls"
        ) from None
    if not allow_private:
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise ApiError(
                    400,
                    f"url {url[:200]}: {host} is a private or local address ({ip}); the server "
                    "does not fetch inside its network for a caller (serve.allow_private_urls)",
                    param="urls",
                    code="url_not_allowed",
                )
    return url


@router.post("/ask", response_model=schema.Answer)
async def ask(request: Request, body: schema.AskRequest) -> JSONResponse:
    """Retrieve and answer one question (with optional earlier turns)."""
    state = request.app.state.rag
    llm = state.service.llm_for(body.model, deadline_s=state.settings.serve.request_timeout_s + 1)
    history = [t.model_dump() for t in body.history]
    answer: Answer = await state.call(
        state.deadline(), state.service.ask, body.question, history, llm, body.top_k
    )
    return JSONResponse(answer.to_dict())


@router.get("/documents", response_model=schema.DocumentList)
async def documents(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """The indexed documents, by id."""
    state = request.app.state.rag

    def rows() -> tuple[list[dict[str, Any]], str]:
        idx = state.service.pipeline.index()
        return idx.doc_rows(), idx.generation

    all_rows, generation = await state.call(state.deadline(), rows)
    return JSONResponse(
        {
            "object": "list",
            "data": all_rows[offset : offset + limit],
            "total": len(all_rows),
            "generation": generation,
        }
    )


@router.post(
    "/documents",
    status_code=202,
    response_model=schema.Job,
    openapi_extra=_UPLOAD_BODY,
)
async def add_documents(request: Request) -> JSONResponse:
    """Ingest uploaded files or URLs in the background; answers with the job."""
    state = request.app.state.rag
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        s = state.settings.serve
        async with request.form(
            max_files=s.max_upload_files, max_fields=200, max_part_size=64 * 1024
        ) as form:  # closing it removes the spooled uploads
            files = [
                _file(item, field) for field in ("file", "files") for item in form.getlist(field)
            ]
            urls = [
                str(u).strip() for f in ("url", "urls") for u in form.getlist(f) if str(u).strip()
            ]
            return await _submit(state, files, urls)
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError as e:
            raise ApiError(
                400, f"the request body is not valid JSON ({e})", code="invalid_json"
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("urls"), list):
            raise ApiError(400, 'send JSON {"urls": ["https://..."]}', param="urls")
        urls = [u.strip() for u in body["urls"] if isinstance(u, str) and u.strip()]
        return await _submit(state, [], urls)
    raise ApiError(
        415,
        'send multipart/form-data with `file` fields (or `url` fields), or JSON {"urls": [...]}',
        code="unsupported_media_type",
    )


def _file(item: Any, field: str) -> Any:
    if isinstance(item, str):
        raise ApiError(400, f"field {field!r} must be a file upload", param=field, code="bad_file")
    return item


async def _submit(state: Any, files: list[Any], urls: list[str]) -> JSONResponse:
    if not files and not urls:
        raise ApiError(
            400, "nothing to ingest: send at least one file or URL", code="nothing_to_ingest"
        )
    if len(urls) > state.settings.serve.max_upload_files:
        raise ApiError(
            400,
            f"{len(urls)} URLs in one request; send at most "
            f"{state.settings.serve.max_upload_files} (serve.max_upload_files)",
            param="urls",
        )
    allow = state.settings.serve.allow_private_urls
    for url in urls:
        await anyio.to_thread.run_sync(check_url, url, allow)
    names = [_safe_name(f.filename) for f in files]
    if len(set(names)) != len(names):
        raise ApiError(400, "two files in one upload have the same name", code="bad_file")
    job_id, staged = state.jobs.new_staging()
    try:
        await anyio.to_thread.run_sync(_stage, files, names, staged, state.settings)
    except OSError as e:  # a full disk or a read-only folder: one line, no server paths
        shutil.rmtree(staged, ignore_errors=True)
        why = os.strerror(e.errno).lower() if e.errno else "write error"
        raise ApiError(
            507,
            f"the upload could not be stored on the server ({why}); nothing was ingested",
            type="server_error",
            code="index_write_failed",
        ) from None
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    job = state.jobs.submit(job_id, names, urls, staged if files else None)
    return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


def _safe_name(filename: str | None) -> str:
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    if not name or name.startswith(".") or len(name) > 200:
        raise ApiError(
            400,
            f"file name {filename!r} cannot be used; name the file like report.md",
            code="bad_file",
        )
    if Path(name).suffix.lower() not in SUPPORTED:
        raise ApiError(
            415,
            f"file {name}: this type is not read; send one of {', '.join(sorted(SUPPORTED))}",
            code="unsupported_file_type",
        )
    return name


def _stage(files: list[Any], names: list[str], folder: Path, settings: Any) -> None:
    limit = int(settings.limits.max_file_mb * 1024 * 1024)
    for f, name in zip(files, names, strict=True):
        target = folder / name
        with target.open("wb") as out:
            shutil.copyfileobj(f.file, out, 1024 * 1024)
        if target.stat().st_size > limit:
            raise too_large(
                f"file {name}",
                f"{settings.limits.max_file_mb:g} MB",
                "limits.max_file_mb (RAG_LIMITS__MAX_FILE_MB)",
            )
        if target.stat().st_size == 0:
            raise ApiError(400, f"file {name} is empty", code="bad_file")


@router.get("/jobs", response_model=schema.JobList)
async def jobs(request: Request) -> dict[str, Any]:
    """Ingest jobs, newest first (kept in memory)."""
    return {"object": "list", "data": [j.to_dict() for j in request.app.state.rag.jobs.all()]}


@router.get("/jobs/{job_id}", response_model=schema.Job)
async def job(request: Request, job_id: str) -> dict[str, Any]:
    j = request.app.state.rag.jobs.get(job_id)
    if j is None:
        raise ApiError(404, f"no job {job_id!r}; GET /v1/jobs lists them", type="not_found_error")
    return j.to_dict()


@health.get(
    "/healthz",
    response_model=schema.Health,
    responses={503: {"model": schema.Health, "description": "The index cannot answer."}},
)
async def healthz(request: Request) -> JSONResponse:
    """200 while the index answers; 503 (with the reason) while it is missing or broken."""
    state = request.app.state.rag
    s = state.settings
    out: dict[str, Any] = {"index": str(s.index.dir), "model": s.llm.model}

    def look() -> dict[str, Any]:
        idx = state.service.pipeline.index()
        docs = idx.manifest.get("counts", {}).get("documents", len(idx.docs()))
        return {"generation": idx.generation, "documents": docs, "chunks": idx.n_chunks}

    try:
        with anyio.fail_after(s.serve.request_timeout_s):
            out |= await anyio.to_thread.run_sync(look, abandon_on_cancel=True)
    except TimeoutError:
        return JSONResponse(
            {**out, "status": "unavailable", "error": "the index did not open in time"},
            status_code=503,
        )
    except RagError as e:
        err = from_rag_error(e)
        return JSONResponse(
            {**out, "status": "unavailable", "error": str(e)},
            status_code=err.status if err.status >= 500 else 503,
            headers=err.headers,
        )
    return JSONResponse({**out, "status": "ok"})
