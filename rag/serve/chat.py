"""OpenAI-compatible routes: `GET /v1/models` and `POST /v1/chat/completions`.

A chat completion answers the last user message; the earlier user and assistant turns
are its context (a follow-up is condensed into a standalone question, as in the chat).
The content is the answer with its `[n]` markers and, unless switched off, a Sources
footer; `citations` carries what each marker points to, `rag` the rest of the
`rag ask --json` contract, `usage` the token counts.

Streamed (`"stream": true`), it is Server-Sent Events in OpenAI's chunk format: a
first chunk with the role at once, the checked answer sentence by sentence, the footer,
then a last chunk with `finish_reason`, `citations` and `rag`; with
`stream_options.include_usage`, a chunk with `usage` and no choices; then
`data: [DONE]`. An error before the first byte is an ordinary HTTP error; one after it
is an `{"error": ...}` event, and the stream ends.

The answerer's draft is not streamed: every sentence is checked against the passages
once the draft is complete (`rag.check`), and an OpenAI client cannot take back text it
has shown, so it gets only the checked answer (as the CLI does when not on a terminal).
With the offline answerer that costs nothing; with an LLM the text arrives when the
model is done.

What it does not do: retrieve, prompt or cite (the core does).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag.api import Retrieved
from rag.errors import RagError
from rag.generate import Final
from rag.types import Answer

from . import schema
from .errors import ApiError, error_body, from_rag_error
from .service import Service, answer_extras, content, content_pieces, conversation

log = logging.getLogger("rag.serve")
router = APIRouter(
    tags=["OpenAI-compatible"],
    responses=schema.error_responses(400, 401, 403, 404, 408, 413, 429, 502, 503, 504),
)
_END = object()
CREATED = int(time.time())


@router.get("/models", response_model=schema.ModelList)
async def list_models(request: Request) -> dict[str, Any]:
    """The models a client may choose: `rag` is the server's configured answerer."""
    service: Service = request.app.state.rag.service
    return {"object": "list", "data": [_model(m) for m in service.models()]}


@router.get("/models/{model_id:path}", response_model=schema.Model)
async def get_model(request: Request, model_id: str) -> dict[str, Any]:
    service: Service = request.app.state.rag.service
    if model_id not in service.models():
        service.llm_for(model_id)  # raises the 404 with the list of models
    return _model(model_id)


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "rag"}


@router.post(
    "/chat/completions",
    response_model=schema.ChatCompletion,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "The completion; Server-Sent Events when `stream` is true.",
        }
    },
)
async def chat_completions(request: Request, body: schema.ChatCompletionRequest) -> Any:
    """Answer the last user message, with the conversation as context."""
    state = request.app.state.rag
    service: Service = state.service
    deadline = state.deadline()
    question, history = conversation(body.messages, state.settings.chat.history_turns)
    llm = service.llm_for(
        body.model,
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        deadline_s=state.settings.serve.request_timeout_s + 1,
    )
    footer = body.sources_footer
    if footer is None:
        footer = state.settings.serve.sources_footer
    cid = "chatcmpl-" + secrets.token_hex(12)
    created = int(time.time())
    if not body.stream:

        def work() -> dict[str, Any]:  # in a worker: counting usage tokenizes
            answer = service.ask(question, history, llm, body.top_k)
            return _completion(service, answer, body.model, cid, created, footer)

        return JSONResponse(await state.call(deadline, work))

    events = service.ask_stream(question, history, llm, body.top_k)
    first = await state.call(deadline, next, events, _END)  # errors here keep their status
    if not isinstance(first, Retrieved):
        raise RuntimeError("the core's stream did not start with the passages")
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    sse = _stream(state, events, deadline, body.model, cid, created, footer, include_usage)
    return StreamingResponse(
        sse,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _completion(
    service: Service, answer: Answer, model: str, cid: str, created: int, footer: bool
) -> dict[str, Any]:
    citations, extras = answer_extras(answer)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content(answer, footer)},
                "finish_reason": "stop",
            }
        ],
        "usage": service.usage(answer),
        "citations": citations,
        "rag": extras,
    }


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], **more: Any) -> str:
    finish = more.pop("finish_reason", None)
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **more,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def _stream(
    state: Any,
    events: Iterator[Any],
    deadline: float,
    model: str,
    cid: str,
    created: int,
    footer: bool,
    include_usage: bool,
) -> AsyncIterator[str]:
    service: Service = state.service

    def finish() -> tuple[Any, ...]:
        """In one worker turn: the rest of the answer (the draft's Deltas are not sent,
        the checked text is) and its parts (usage tokenizes). One turn, not one per
        event: each turn waits behind every other request for a worker."""
        for ev in events:
            if isinstance(ev, Final):
                a = ev.answer
                return content_pieces(a, footer), *answer_extras(a), service.usage(a)
        raise RuntimeError("the core ended without an answer")

    try:
        yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
        final = await state.call(deadline, finish)
        pieces, citations, extras, usage = final
        for piece in pieces:
            yield _chunk(cid, created, model, {"content": piece})
        yield _chunk(cid, created, model, {}, finish_reason="stop", citations=citations, rag=extras)
        if include_usage:
            body = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"
    except ApiError as e:
        yield f"data: {json.dumps(e.body())}\n\n"
    except RagError as e:
        log.warning("streamed answer failed: %s", e)
        yield f"data: {json.dumps(from_rag_error(e).body())}\n\n"
    except Exception:
        log.exception("streamed answer failed")
        body = error_body("internal server error; the server log has the details", "server_error")
        yield f"data: {json.dumps(body)}\n\n"
    finally:
        # still running in an abandoned worker thread (ValueError): it ends by itself
        with contextlib.suppress(ValueError):
            events.close()  # type: ignore[attr-defined]
