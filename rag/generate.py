"""Passages → Answer: the offline answerer or any LLM through litellm, streamed.

`generate_stream()` yields `Delta` events as text is produced and one `Final` with the
Answer. Both answerers go through the same citation clean-up (`cite.MarkerStream`):
markers that match no shown passage are removed, the rest renumbered in order of use.

The offline answerer is called directly rather than registered as a litellm custom
provider: importing litellm costs about 3 s, which would be the whole cold-start budget
of `rag ask`. litellm is imported only when a model other than `offline` is asked for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rag import cite
from rag.config import OFFLINE_MODEL, LLMSettings
from rag.errors import ModelError
from rag.extractive import ABSTAIN_PREFIX, EmbedFn, abstention, compose, pick_sentences
from rag.llm import Call, import_litellm
from rag.prompts import load_template
from rag.text import terms
from rag.types import Answer, Citation, Hit, Usage


@dataclass(slots=True)
class Delta:
    """A piece of answer text, ready to show (markers already cleaned)."""

    text: str


@dataclass(slots=True)
class Final:
    answer: Answer


Turn = dict[str, str]  # {"role": "user" | "assistant", "content": str}

USER_VARS = frozenset({"passages", "question", "history"})


def generate_stream(
    question: str,
    hits: Sequence[Hit],
    llm: LLMSettings,
    *,
    embed: EmbedFn,
    history: Sequence[Turn] = (),
    stream: bool = True,
    search_query: str | None = None,
) -> Iterator[Delta | Final]:
    """Answer `question` from `hits` (numbered 1..k in order), as events.

    An LLM reads the conversation (`history`); the offline answerer cannot: it picks
    sentences for the user's own words and, when those find none, for `search_query` (the
    follow-up rewritten with the earlier questions: "who said that?" has no words of its
    own, "and what about women?" has).
    With `stream=False` an LLM is called without token streaming (one Delta at the end).
    """
    t0 = time.perf_counter()
    if llm.model == OFFLINE_MODEL:
        yield from _offline(question, hits, embed, t0, search_query)
        return
    try:
        yield from _llm(question, hits, llm, history, t0, stream)
    except ModelError as e:
        if not llm.fallback_offline:
            raise
        note = f"(The model {llm.model} failed: {e}. Answering offline instead.) "
        yield Delta(note)
        for ev in _offline(question, hits, embed, t0, search_query):
            if isinstance(ev, Final):
                ev.answer.text = note + ev.answer.text
            yield ev


# --------------------------------------------------------------------------- offline


def _offline(
    question: str, hits: Sequence[Hit], embed: EmbedFn, t0: float, rewritten: str | None = None
) -> Iterator[Delta | Final]:
    """Sentences picked for `question`, else for its `rewritten` form; an abstention
    repeats the user's own words."""
    extract = pick_sentences(question, hits, embed)
    if extract.abstained and rewritten and rewritten != question:
        extract = pick_sentences(rewritten, hits, embed)
    text = compose(extract, question)
    stream = cite.MarkerStream(range(1, len(hits) + 1))
    parts: list[str] = []
    for i, sentence in enumerate(cite.split_sentences(text) if not extract.abstained else [text]):
        piece = stream.feed(("" if i == 0 else " ") + sentence)
        parts.append(piece)
        if piece:
            yield Delta(piece)
    tail = stream.finish()
    if tail:
        parts.append(tail)
        yield Delta(tail)
    quotes: dict[int, list[tuple[int, int]]] = {}
    for c in extract.picks:
        quotes.setdefault(c.passage, []).append((c.start, c.end))
    yield Final(
        _answer(
            question,
            "".join(parts),
            text,
            stream.map,
            hits,
            OFFLINE_MODEL,
            extract.abstained,
            quotes,
            t0,
        )
    )


# --------------------------------------------------------------------------- LLM


def _passages(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    out = []
    for n, h in enumerate(hits, 1):
        out.append(
            {
                "n": n,
                "title": _attr(h.doc.title),
                "source": _attr(h.doc.source or ""),
                "date": (h.doc.published_at or "")[:10],
                # passages are data: they cannot close their own <passage> element
                "text": re.sub(r"</?\s*passage", "‹passage", h.chunk.text, flags=re.I),
            }
        )
    return out


def _attr(s: str) -> str:
    return s.replace('"', "'").replace("<", "‹").replace(">", "›")


def build_messages(
    question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()
) -> list[dict[str, str]]:
    system = load_template("answer.system.txt")
    user = load_template("answer.user.txt", USER_VARS, frozenset({"passages", "question"}))
    return [
        {"role": "system", "content": system.render()},
        {
            "role": "user",
            "content": user.render(
                passages=_passages(hits), question=question, history=list(history)[-6:]
            ),
        },
    ]


def _llm(
    question: str,
    hits: Sequence[Hit],
    llm: LLMSettings,
    history: Sequence[Turn],
    t0: float,
    stream_tokens: bool = True,
) -> Iterator[Delta | Final]:
    messages = build_messages(question, hits, history)
    stream = cite.MarkerStream(range(1, len(hits) + 1))
    parts: list[str] = []
    call = Call(messages, llm, stream=stream_tokens)
    for delta in call:
        piece = stream.feed(delta)
        if piece:
            parts.append(piece)
            yield Delta(piece)
    tail = stream.finish()
    if tail:
        parts.append(tail)
        yield Delta(tail)
    text = "".join(parts)
    if not text.strip():
        raise ModelError(
            f"model {llm.model} returned an empty answer; try again or use another model"
        )
    abstained = text.lstrip().startswith(ABSTAIN_PREFIX)
    ans = _answer(
        question,
        text,
        stream.raw,
        stream.map,
        hits,
        llm.model,
        abstained,
        _quotes(text, hits, stream.map),
        t0,
    )
    ans.usage = _usage(import_litellm(), call.response)
    yield Final(ans)


def _usage(litellm: Any, response: Any) -> Usage:
    """Tokens and cost as litellm reports them; None where it does not know."""
    u = getattr(response, "usage", None) if response is not None else None
    if u is None:
        return Usage()
    cost = None
    try:
        cost = float(litellm.completion_cost(completion_response=response))
    except Exception:  # litellm has no price for this model
        cost = None
    return Usage(getattr(u, "prompt_tokens", None), getattr(u, "completion_tokens", None), cost)


def _quotes(
    text: str, hits: Sequence[Hit], mapping: cite.Renumbering
) -> dict[int, list[tuple[int, int]]]:
    """For each cited passage, the sentence that best matches the answer sentence citing it."""
    out: dict[int, list[tuple[int, int]]] = {}
    for sentence in cite.split_sentences(text):
        nums = cite.markers(sentence)
        s_terms = set(terms(cite.MARKER.sub("", sentence)))
        if not s_terms:
            continue
        for d in nums:
            if not 1 <= d <= len(mapping.order):
                continue
            passage = mapping.order[d - 1]
            chunk = hits[passage - 1].chunk
            best, best_span = 0.0, None
            for s, e in chunk.sentences:
                c_terms = set(terms(chunk.text[s - chunk.start : e - chunk.start]))
                if not c_terms:
                    continue
                overlap = len(s_terms & c_terms) / len(s_terms | c_terms)
                if overlap > best:
                    best, best_span = overlap, (s, e)
            if best_span is not None and best >= 0.15:
                spans = out.setdefault(passage, [])
                if best_span not in spans:
                    spans.append(best_span)
    return out


# --------------------------------------------------------------------------- assembly


def _answer(
    question: str,
    text: str,
    raw: str,
    mapping: cite.Renumbering,
    hits: Sequence[Hit],
    model: str,
    abstained: bool,
    quotes: dict[int, list[tuple[int, int]]],
    t0: float,
) -> Answer:
    if abstained:
        text = cite.MARKER.sub("", text).strip()
        citations: list[Citation] = []
    else:
        citations = [
            Citation(n=i, hit=hits[p - 1], quotes=quotes.get(p, []))
            for i, p in enumerate(mapping.order, 1)
        ]
    return Answer(
        question=question,
        text=text.strip(),
        citations=citations,
        hits=list(hits),
        abstained=abstained,
        model=model,
        raw_text=raw,
        dropped_markers=list(mapping.dropped),
        timings_ms={"generate": (time.perf_counter() - t0) * 1000},
    )


def collect(events: Iterable[Any], on_delta: Callable[[str], None] | None = None) -> Answer:
    """Drain a stream into its Answer, passing deltas to `on_delta`."""
    for ev in events:
        if isinstance(ev, Final):
            return ev.answer
        if on_delta is not None:
            on_delta(ev.text)
    raise ModelError("the answer stream ended without an answer")


__all__ = ["Delta", "Final", "abstention", "build_messages", "collect", "generate_stream"]
