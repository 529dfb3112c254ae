"""Request and response shapes of `rag serve` (they make /openapi.json).

The chat-completion shapes follow OpenAI's API as far as a RAG answer uses it: unknown
request fields are accepted and ignored (clients send many: `tools`, `seed`,
`logprobs`...), so any OpenAI-compatible client works. Our additions:
- request: `top_k` (passages to show the answerer) and `sources_footer` (true/false);
- response: `citations`, the structured citations of `rag ask --json` (what each
  `[n]` in the content points to), and `rag`, the rest of that contract (abstained,
  search query, timings, per-sentence checks when the answerer gives them).

`Answer` is the `rag ask --json` contract, open to fields added later.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# --------------------------------------------------------------------------- errors


class ErrorDetail(BaseModel):
    message: str = Field(description="One line: what was wrong and what to do.")
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error shape."""

    error: ErrorDetail


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses."""
    text = {
        400: "A bad request (malformed JSON, a missing or invalid field).",
        401: "No API key, or an invalid one (once the server has keys).",
        403: "A keyless server refuses requests from other hosts or origins.",
        404: "An unknown model, job or path.",
        408: "The request body did not arrive before the request's deadline.",
        413: "The body is too large.",
        415: "An unsupported content or file type.",
        429: "The key's rate limit is reached; see Retry-After.",
        502: "The LLM failed.",
        503: "The index is missing or cannot be read; see Retry-After.",
        504: "The request passed its deadline.",
    }
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


# --------------------------------------------------------------------------- chat


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(description="`text`; other kinds (images, audio) are refused.")
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(default="rag", description="`rag` (the server's model) or `rag/<model>`.")
    messages: list[ChatMessage] = Field(
        json_schema_extra={"minItems": 1},
        description="The conversation; the last one is the user's question, the earlier "
        "user and assistant turns are its context (follow-ups). System messages are ignored: "
        "the answerer's instructions are the server's.",
    )
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=16, le=32768)
    max_completion_tokens: int | None = Field(default=None, ge=16, le=32768)
    n: int | None = Field(default=None, ge=1, le=1, description="Only 1 is supported.")
    user: str | None = None
    top_k: int | None = Field(default=None, ge=1, description="Passages shown (rag extension).")
    sources_footer: bool | None = Field(
        default=None, description="End the content with a Sources list (rag extension)."
    )


class Citation(BaseModel):
    """What one `[n]` marker points to: a passage of an article (`rag ask --json`)."""

    model_config = ConfigDict(extra="allow")
    n: int
    doc_id: str
    chunk_id: str
    title: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    start: int = Field(description="Where the passage starts in the article's text.")
    end: int
    text: str
    quotes: list[list[int]] = Field(
        description="Spans (start, end) in the article of the sentences the answer used."
    )


class ResponseMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class Choice(BaseModel):
    index: int
    message: ResponseMessage
    finish_reason: Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class RagInfo(BaseModel):
    """The rest of the `rag ask --json` contract (without question, answer, hits)."""

    model_config = ConfigDict(extra="allow")
    abstained: bool
    model: str
    timings_ms: dict[str, float]
    search_query: str | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[Citation]
    rag: RagInfo


class Model(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[Model]


# --------------------------------------------------------------------------- REST


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    question: str = Field(description="The question.", json_schema_extra={"pattern": r"\S"})
    top_k: int | None = Field(default=None, ge=1, description="Passages shown.")
    model: str | None = Field(
        default=None, description="`rag` (default), `rag/<model>` or the bare model name."
    )
    history: list[Turn] = Field(
        default_factory=list, description="Earlier turns, oldest first (for follow-ups)."
    )


class Hit(BaseModel):
    model_config = ConfigDict(extra="allow")
    rank: int
    doc_id: str
    chunk_id: str
    score: float
    text: str


class Answer(BaseModel):
    """The `rag ask --json` contract."""

    model_config = ConfigDict(extra="allow")
    question: str
    answer: str
    abstained: bool
    model: str
    citations: list[Citation]
    hits: list[Hit]
    timings_ms: dict[str, float]
    usage: dict[str, Any]
    search_query: str | None = None


class DocumentRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    title: str
    source: str | None = None
    published_at: str | None = None
    chunks: int


class DocumentList(BaseModel):
    object: Literal["list"]
    data: list[DocumentRow]
    total: int
    generation: str


class JobProgress(BaseModel):
    chunks_total: int | None = None
    chunks_done: int = 0
    fraction: float | None = Field(default=None, description="0..1 once the total is known.")


class Job(BaseModel):
    """An ingest of uploaded files (or URLs), run in the background."""

    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["ingest.job"]
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    files: list[str]
    urls: list[str]
    progress: JobProgress
    notices: list[str]
    report: dict[str, Any] | None = None
    error: str | None = None


class JobList(BaseModel):
    object: Literal["list"]
    data: list[Job]


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "unavailable"]
    index: str
    generation: str | None = None
    documents: int | None = None
    chunks: int | None = None
    model: str
    error: str | None = None
