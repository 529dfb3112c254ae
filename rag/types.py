"""Plain data types that flow through the pipeline.

files ─ingest→ Document ─chunk→ Chunk ─embed→ vectors ─store→ Index
question ─retrieve→ [Hit] ─generate→ draft ─check→ Answer(text, [Citation], sentences)

Only dataclasses here: no behaviour beyond small derived properties and `to_dict`
helpers for the JSON contracts. Importing this module is cheap.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def page_label(pages: Sequence[int] | None, start: int, end: int | None = None) -> str | None:
    """'p. 3' (or 'pp. 3–4') for a span of a paged document's text (a PDF, whose
    `extra["pages"]` holds the offset where each page starts); None for other documents."""
    if not pages:
        return None
    first = bisect_right(pages, start)
    last = bisect_right(pages, max(start, (end if end is not None else start) - 1))
    return f"p. {first}" if last == first else f"pp. {first}–{last}"


@dataclass(slots=True)
class Document:
    """One article. `text` is the body; spans of chunks and citations index into it."""

    id: str
    title: str
    text: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None  # ISO 8601 as given by the input, never invented
    origin: str | None = None  # file path (and record number) it came from
    extra: dict[str, Any] = field(default_factory=dict)  # author, category, ...
    hash: str = ""  # content hash over metadata and text; set by ingest

    def meta(self) -> dict[str, Any]:
        """Metadata without the body (what the chunk table keeps per document)."""
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "published_at": self.published_at,
            "origin": self.origin,
            "extra": self.extra,
            "hash": self.hash,
        }


@dataclass(slots=True)
class Chunk:
    """A passage of a document: `text == document.text[start:end]`.

    `sentences` are the (start, end) spans of its sentences in the document body,
    so an answer can cite and highlight single sentences. `flags` are its sentences
    suspected of being instructions to an AI reader, (start, end, score, reason) in the
    same coordinates (rag.injection): never quoted, never support, cut from LLM prompts.
    """

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    sentences: list[tuple[int, int]] = field(default_factory=list)
    flags: list[tuple[int, int, float, str]] = field(default_factory=list)


@dataclass(slots=True)
class DocMeta:
    """Document metadata as stored in the index (no body)."""

    id: str
    title: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    origin: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Hit:
    """A retrieved chunk with its scores; `rank` starts at 1."""

    chunk: Chunk
    doc: DocMeta
    score: float
    rank: int = 0
    # cosine of the chunk to the text that was searched (the question without the names
    # and dates it was filtered by); None without dense search. For an approximate index
    # a chunk found only by BM25 gets the lowest cosine FAISS returned.
    dense: float | None = None
    lexical: float | None = None
    sentence_vectors: Any = None  # np.ndarray (n_sentences, dim) when the index has them

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.chunk.doc_id,
            "chunk_id": self.chunk.id,
            "score": round(float(self.score), 6),
            "text": self.chunk.text,
        }


@dataclass(slots=True)
class Citation:
    """What one `[n]` marker in an answer points to: a passage shown to the answerer.

    `start`/`end` locate `text` (the passage) in the document body; `quotes` are the
    spans of the sentences the answer took from it, when the answerer knows them.
    """

    n: int
    hit: Hit
    quotes: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        c, d = self.hit.chunk, self.hit.doc
        return {
            "n": self.n,
            "doc_id": c.doc_id,
            "chunk_id": c.id,
            "title": d.title,
            "source": d.source,
            "url": d.url,
            "published_at": d.published_at,
            "start": c.start,
            "end": c.end,
            "text": c.text,
            "quotes": [list(q) for q in self.quotes],
            "page": self.page,
            "also_published_by": list(d.extra.get("also_published_by", [])),
        }

    @property
    def page(self) -> str | None:
        """Where the passage is in a PDF ('p. 3'); None for other documents."""
        c = self.hit.chunk
        return page_label(self.hit.doc.extra.get("pages"), c.start, c.end)


@dataclass(slots=True)
class Usage:
    """Token counts and cost as litellm reports them (None when unknown)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None


@dataclass(slots=True)
class SentenceCheck:
    """One sentence of an answer as checked (`rag.check`): the display numbers it cites,
    whether its passages support it, and the support score (its weakest claim's).
    A framing word ("Yes.") or an abstention is no claim: nothing to support."""

    text: str  # markers removed
    citations: list[int]
    supported: bool
    score: float
    claim: bool = True
    start: int = 0  # where the sentence (with its markers) is in the answer text
    end: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "supported": self.supported,
            "score": round(float(self.score), 3),
            "claim": self.claim,
            "start": self.start,
            "end": self.end,
        }


@dataclass(slots=True)
class Answer:
    """The answer with `[n]` markers, what each marker cites, and what was shown."""

    question: str
    text: str
    citations: list[Citation]
    hits: list[Hit]
    abstained: bool
    model: str
    raw_text: str = ""  # the answerer's text before invalid markers were removed
    dropped_markers: list[int] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    search_query: str | None = None  # the query retrieval used, when it differs
    sentences: list[SentenceCheck] = field(default_factory=list)  # as checked, in order

    def to_dict(self) -> dict[str, Any]:
        """The `rag ask --json` contract."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "model": self.model,
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "usage": asdict(self.usage),
            "sentences": [s.to_dict() for s in self.sentences],
            **({"search_query": self.search_query} if self.search_query else {}),
        }
