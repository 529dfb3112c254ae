"""The core API that every face calls: `ingest`, `ask`, `ask_stream` (and `Pipeline`).

`ingest` is `rag.ingest.update.ingest` (reading, duplicates, embedding, publishing).

A `Pipeline` holds what is worth keeping between questions in a long-running process
(the opened index, the encoder) and notices when an ingest publishes a new index
generation. The module-level `ask`/`ask_stream` reuse one pipeline per settings, so a
chat app or an eval run loads models once.

What it does not do: print, parse arguments or render anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer import IndexFacts
from rag.answer.plan import kind_of as plan_kind
from rag.config import OFFLINE_MODEL, LLMSettings, Settings, index_fingerprint, load_settings
from rag.errors import IndexNotFoundError, UsageError
from rag.followup import condense
from rag.generate import Delta, Final, Turn, collect, generate_stream
from rag.ingest.dedup import annotate_copies
from rag.ingest.update import (  # ingest lives in rag.ingest; the faces find it here
    IngestProgress,
    IngestReport,
    encoder_for,
    ingest,
    recorded_inputs,
)
from rag.llm import check_key, prefetch_litellm, preflight
from rag.retrieve import Retriever
from rag.store import (
    StoredIndex,
    check_compatible,
    current_generation,
    generations,
    live_generation,
    open_index,
)
from rag.types import Answer, Hit

log = logging.getLogger("rag")

__all__ = [
    "Delta",
    "Final",
    "IngestProgress",
    "IngestReport",
    "Pipeline",
    "Retrieved",
    "ask",
    "ask_stream",
    "encoder_for",
    "ingest",
    "recorded_inputs",
]


# --------------------------------------------------------------------------- asking


@dataclass(slots=True)
class Retrieved:
    """First event of `ask_stream`: the passages the answerer will see."""

    hits: list[Hit]
    search_query: str


Event = Retrieved | Delta | Final


class Pipeline:
    """Index + encoder + answerer for one Settings; reloads when the index changes."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._index: StoredIndex | None = None
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()  # the chat serves several sessions from threads

    # -- loading
    @property
    def index_dir(self) -> Path:
        return Path(self.settings.index.dir)

    def ensure_index(self, notice: Callable[[str], None] | None = None) -> bool:
        """Build the configured index from `index.corpus` if it does not exist yet.

        Returns True when it built one. The faces call this for the configured index
        only, never for a folder the user named explicitly.
        """
        if current_generation(self.index_dir) is not None or generations(self.index_dir):
            return False  # an index, or a damaged one: opening it says so
        if notice:
            corpus = ", ".join(str(p) for p in self.settings.index.corpus)
            notice(f"No index at {self.index_dir} yet: building it from {corpus} (once)…")
        ingest(settings=self.settings)
        return True

    def index(self) -> StoredIndex:
        """The live index generation; reopened when an ingest has published a new one."""
        with self._lock:
            gen = current_generation(self.index_dir)
            if self._index is None or gen != self._index.generation:
                if gen is None and not generations(self.index_dir):
                    raise IndexNotFoundError(
                        f"no index at {self.index_dir}; build it with `rag ingest PATH "
                        f"--index {self.index_dir}`"
                    )
                live_generation(self.index_dir)  # a missing or garbled CURRENT: one line
                new = open_index(
                    self.index_dir, verify_up_to_mb=self.settings.index.verify_on_open_mb
                )
                annotate_copies(new.docs())  # wire copies: each searched one names the others
                check_compatible(
                    new.manifest,
                    index_fingerprint(self.settings),
                    self.index_dir,
                    keys=["embedding_model"],
                )
                # the old generation is not closed: a request in flight may still read it
                self._index, self._retriever = new, None
            return self._index

    def describe(self) -> dict[str, object]:
        """What is loaded: documents, chunks, the range of publication dates, the model."""
        idx = self.index()
        rows = idx.doc_rows()
        dates = sorted(r["published_at"][:10] for r in rows if r["published_at"])
        return {
            "index": str(self.index_dir),
            "documents": len(rows),
            "undated": len(rows) - len(dates),
            "chunks": idx.n_chunks,
            "first_published": dates[0] if dates else None,
            "last_published": dates[-1] if dates else None,
            "embedding_model": idx.manifest["embedding"]["model"],
            "model": self.settings.llm.model,
        }

    def retriever(self) -> Retriever:
        with self._lock:
            idx = self.index()
            if idx.n_chunks == 0:
                raise IndexNotFoundError(
                    f"index {self.index_dir} holds no documents yet; add some with "
                    f"`rag ingest PATH --index {self.index_dir}`"
                )
            if self._retriever is None or self._retriever.index is not idx:
                enc = encoder_for(self.settings, idx.manifest, for_queries=True)
                self._retriever = Retriever(idx, enc, self.settings.retrieval)
            return self._retriever

    # -- checks
    def check_question(self, question: str, top_k: int) -> str:
        q = " ".join((question or "").split())
        lim = self.settings.limits
        if not q:
            raise UsageError(
                'empty question; ask something, e.g. rag ask "why did Russia lift the ban"'
            )
        if len(q) > lim.max_question_chars:
            raise UsageError(
                f"question is {len(q)} characters, the limit is {lim.max_question_chars}; "
                "shorten it or raise limits.max_question_chars"
            )
        lim.check_top_k(top_k)
        return q

    def depth(self, question: str, top_k: int | None = None, llm: LLMSettings | None = None) -> int:
        """How many passages to show: `top_k` when given, else the setting's, raised to
        `broad_top_k` for why / list / summary questions when the offline answerer answers
        (it gathers their points from several articles; an LLM's prompt stays short)."""
        r = self.settings.retrieval
        if top_k is not None:
            return top_k
        offline = (llm or self.settings.llm).model == OFFLINE_MODEL
        if offline and plan_kind(question) in ("why", "list", "summary"):
            return min(max(r.top_k, r.broad_top_k), self.settings.limits.max_top_k)
        return r.top_k

    # -- the work
    def retrieve(self, question: str, top_k: int | None = None) -> list[Hit]:
        """The top-k passages for a question (validated like `ask`)."""
        k = self.settings.retrieval.top_k if top_k is None else top_k
        return self.retriever().search(self.check_question(question, k), k)

    def answer_stream(
        self,
        question: str,
        hits: Sequence[Hit],
        *,
        history: Sequence[Turn] = (),
        llm: LLMSettings | None = None,
        stream: bool = True,
        search_query: str | None = None,
    ) -> Iterator[Delta | Final]:
        """Answer from given passages (numbered 1..k in order) with the configured model."""
        retriever = self.retriever()
        return generate_stream(
            question,
            hits,
            llm or self.settings.llm,
            embed=retriever.embed_queries,
            history=history,
            stream=stream,
            search_query=search_query,
            check=self.settings.check,
            injection=self.settings.injection,
            facts=IndexFacts(source=retriever.knows_source, term=retriever.knows_term),
        )

    def ask_stream(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        llm: LLMSettings | None = None,
        stream: bool = True,
    ) -> Iterator[Event]:
        """Retrieve, then stream the answer: `Retrieved`, then `Delta`s, then `Final`."""
        t0 = time.perf_counter()
        k = self.depth(question, top_k, llm)
        q = self.check_question(question, k)
        model = llm or self.settings.llm
        if model.model != OFFLINE_MODEL:
            if not model.fallback_offline:
                check_key(model)  # a well-known provider's missing key: before anything
            prefetch_litellm()  # imported while we retrieve
        search = condense(q, history, model) if history else q
        hits = self.retriever().search(search, k)
        t_retrieve = (time.perf_counter() - t0) * 1000
        if not model.fallback_offline:  # a bad name, a missing key, no local server: now
            preflight(model)
        yield Retrieved(hits, search)
        events = self.answer_stream(
            q, hits, history=history, llm=llm, stream=stream, search_query=search
        )
        for ev in events:
            if isinstance(ev, Final):
                ev.answer.question = question
                ev.answer.search_query = search if search != q else None
                ev.answer.timings_ms["retrieve"] = t_retrieve
                ev.answer.timings_ms["total"] = (time.perf_counter() - t0) * 1000
            yield ev

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        llm: LLMSettings | None = None,
    ) -> Answer:
        """Retrieve and answer in one call (an LLM is called without token streaming)."""
        events = self.ask_stream(question, history=history, top_k=top_k, llm=llm, stream=False)
        return collect(e for e in events if not isinstance(e, Retrieved))


_PIPELINES: dict[str, Pipeline] = {}


def pipeline(settings: Settings | None = None) -> Pipeline:
    """The process-wide pipeline for these settings (created on first use)."""
    s = settings or load_settings()
    key = s.model_dump_json()
    p = _PIPELINES.get(key)
    if p is None:
        p = _PIPELINES[key] = Pipeline(s)
    return p


def ask(question: str, settings: Settings | None = None, **kw: object) -> Answer:
    return pipeline(settings).ask(question, **kw)  # type: ignore[arg-type]


def ask_stream(question: str, settings: Settings | None = None, **kw: object) -> Iterator[Event]:
    return pipeline(settings).ask_stream(question, **kw)  # type: ignore[arg-type]
