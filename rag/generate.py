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
from rag.answer import ABSTAIN_PREFIX, EmbedFn, IndexFacts, abstention
from rag.answer import answer as offline_answer
from rag.check import CheckParams, check_draft
from rag.config import OFFLINE_MODEL, CheckSettings, InjectionSettings, LLMSettings
from rag.errors import ModelError
from rag.guard import NOTICE, contacts, steered
from rag.injection import DATAMARK, datamark, flagged, redact_trimmed
from rag.llm import Call, import_litellm
from rag.prompts import load_template
from rag.trim import trim_passages
from rag.types import Answer, Citation, Hit, SentenceCheck, Usage
from rag.verify import make_verifier


@dataclass(slots=True)
class Delta:
    """A piece of answer text, ready to show (markers already cleaned)."""

    text: str


@dataclass(slots=True)
class Final:
    answer: Answer


Turn = dict[str, str]  # {"role": "user" | "assistant", "content": str}

USER_VARS = frozenset({"passages", "question", "history", "spotlight", "sandwich"})
SYSTEM_VARS = frozenset({"spotlight"})


def generate_stream(
    question: str,
    hits: Sequence[Hit],
    llm: LLMSettings,
    *,
    embed: EmbedFn,
    history: Sequence[Turn] = (),
    stream: bool = True,
    search_query: str | None = None,
    check: CheckSettings | None = None,
    injection: InjectionSettings | None = None,
    facts: IndexFacts | None = None,
) -> Iterator[Delta | Final]:
    """Answer `question` from `hits` (numbered 1..k in order), as events.

    An LLM reads the conversation (`history`); the offline answerer cannot: it picks
    sentences for the user's own words and, when those find none, for `search_query` (the
    follow-up rewritten with the earlier questions: "who said that?" has no words of its
    own, "and what about women?" has).
    With `stream=False` an LLM is called without token streaming (one Delta at the end).
    The `Final` answer is the draft as checked (`rag.check`): every claim cited to a shown
    passage that supports it, or marked unsupported; the Deltas showed the draft.
    `facts` let the offline answerer ask the whole index whether it holds an outlet or
    a term a question names ("a Bloomberg report", "Koramangala").
    """
    t0 = time.perf_counter()
    post = _Post(hits, embed, check or CheckSettings(), llm, injection or InjectionSettings())
    if llm.model == OFFLINE_MODEL:
        yield from _offline(question, hits, embed, t0, search_query, post, facts)
        return
    try:
        yield from _llm(question, hits, llm, history, t0, stream, embed, post)
    except ModelError as e:
        if not llm.fallback_offline:
            raise
        note = f"(The model {llm.model} failed: {e}. Answering offline instead.) "
        yield Delta(note)
        for ev in _offline(question, hits, embed, t0, search_query, post, facts):
            if isinstance(ev, Final):
                ev.answer.text = note + ev.answer.text
                for sc in ev.answer.sentences:
                    sc.start, sc.end = sc.start + len(note), sc.end + len(note)
            yield ev


# --------------------------------------------------------------------------- offline


def _offline(
    question: str,
    hits: Sequence[Hit],
    embed: EmbedFn,
    t0: float,
    rewritten: str | None = None,
    post: _Post | None = None,
    facts: IndexFacts | None = None,
) -> Iterator[Delta | Final]:
    """The offline answer (rag.answer) to `question`, else to its `rewritten` form; an
    abstention repeats the user's own words."""
    draft = offline_answer(question, hits, embed, facts)
    if draft.abstained and rewritten and rewritten != question:
        draft = offline_answer(rewritten, hits, embed, facts)
    text = abstention(question) if draft.abstained else draft.text()
    stream = cite.MarkerStream(range(1, len(hits) + 1))
    pieces = [text] if draft.abstained else [c.render() for c in draft.claims]
    for i, sentence in enumerate(pieces):
        piece = stream.feed(("" if i == 0 else " ") + sentence)
        if piece:
            yield Delta(piece)
    tail = stream.finish()
    if tail:
        yield Delta(tail)
    post = post or _Post(hits, embed, CheckSettings(), None)
    yield Final(post.answer(question, text, OFFLINE_MODEL, draft.abstained, draft.quotes(), t0))


# --------------------------------------------------------------------------- LLM


def _passages(
    question: str,
    hits: Sequence[Hit],
    max_sentences: int = 0,
    embed: EmbedFn | None = None,
    injection: InjectionSettings | None = None,
) -> list[dict[str, Any]]:
    """One line per passage: number, title, source, date and its text (trimmed to the
    sentences that matter for the question when `max_sentences` > 0). Sentences flagged
    as orders to AI systems are cut out, and title and text datamarked (rag.injection)."""
    inj = injection or InjectionSettings()
    mark = datamark if inj.spotlight else (lambda x: x)
    out = []
    skip = flagged if inj.redact else None
    trimmed = trim_passages(question, hits, max_sentences, embed, skip=skip)
    for n, (h, t) in enumerate(zip(hits, trimmed, strict=True), 1):
        text = redact_trimmed(h.chunk, t.text, t.spans) if inj.redact else t.text
        out.append(
            {
                "n": n,
                "title": mark(_line(h.doc.title)),
                "source": _line(h.doc.source or ""),
                "date": (h.doc.published_at or "")[:10],
                "text": mark(_line(text)),
            }
        )
    return out


def _line(s: str) -> str:
    """Passage text as data on one line: it cannot start a passage of its own ("[9] ...")
    on a new line, nor carry citation markers."""
    s = " ".join(s.split())
    return _BRACKETED_NUMBER.sub(r"(\1)", s)


_BRACKETED_NUMBER = re.compile(r"\[(\s*\d[\d\s,;\-–]*)\]")


def build_messages(
    question: str,
    hits: Sequence[Hit],
    history: Sequence[Turn] = (),
    *,
    max_sentences: int = 0,
    embed: EmbedFn | None = None,
    injection: InjectionSettings | None = None,
) -> list[dict[str, str]]:
    inj = injection or InjectionSettings()
    system = load_template("answer.system.txt", SYSTEM_VARS)
    user = load_template("answer.user.txt", USER_VARS, frozenset({"passages", "question"}))
    passages = _passages(question, hits, max_sentences, embed, inj)
    return [
        {"role": "system", "content": system.render(spotlight=inj.spotlight)},
        {
            "role": "user",
            "content": user.render(
                passages=passages,
                question=question,
                history=list(history)[-6:],
                spotlight=inj.spotlight,
                sandwich=inj.sandwich,
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
    embed: EmbedFn | None = None,
    post: _Post | None = None,
) -> Iterator[Delta | Final]:
    post = post or _Post(hits, embed, CheckSettings(), llm, InjectionSettings())
    inj = post.injection
    messages = build_messages(
        question, hits, history, max_sentences=llm.passage_sentences, embed=embed, injection=inj
    )
    stream = cite.MarkerStream(range(1, len(hits) + 1))
    parts: list[str] = []
    call = Call(messages, llm, stream=stream_tokens)
    for delta in call:
        if inj.spotlight:  # a model may copy the passages' datamarks
            delta = delta.replace(DATAMARK, " ")
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
    ans = post.answer(question, stream.raw, llm.model, abstained, {}, t0)
    ans.usage = _usage(import_litellm(), call.response)
    why = steered(ans) if inj.output_check and not ans.abstained else None
    if why:  # rag.guard: the answer follows planted text; quote the clean passages instead
        ans = _replaced(question, hits, embed, post, ans, t0)
    yield Final(ans)


def _replaced(
    question: str, hits: Sequence[Hit], embed: EmbedFn | None, post: _Post, ans: Answer, t0: float
) -> Answer:
    """The offline answer from the passages with no flagged sentence, after `NOTICE`."""
    clean = [h for h in hits if not h.chunk.flags]
    if embed is None or not clean:
        new = post.answer(question, abstention(question), OFFLINE_MODEL, True, {}, t0)
    else:
        sub = _Post(clean, embed, post.settings, None, post.injection)
        new = collect(_offline(question, clean, embed, t0, None, sub))
    new.text = NOTICE + new.text
    for sc in new.sentences:
        sc.start, sc.end = sc.start + len(NOTICE), sc.end + len(NOTICE)
    new.raw_text, new.usage = ans.raw_text, ans.usage
    return new


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


# --------------------------------------------------------------------------- assembly


class _Post:
    """The check after generation: the draft (passage-numbered markers) → the Answer."""

    def __init__(
        self,
        hits: Sequence[Hit],
        embed: EmbedFn | None,
        settings: CheckSettings,
        llm: LLMSettings | None,
        injection: InjectionSettings | None = None,
    ) -> None:
        self.hits = hits
        self.embed = embed
        self.settings = settings
        self.llm = llm
        self.injection = injection or InjectionSettings()

    def answer(
        self,
        question: str,
        draft: str,
        model: str,
        abstained: bool,
        quotes: dict[int, list[tuple[int, int]]],
        t0: float,
    ) -> Answer:
        hits = self.hits
        t1 = time.perf_counter()
        removed, raw = None, draft
        if self.injection.output_check and not abstained:  # rag.guard: uncited links
            draft, removed = contacts(draft, hits)
        if abstained:
            text = cite.MARKER.sub("", draft).strip()
            checked = None
        else:
            checked = check_draft(
                draft,
                hits,
                embed=self.embed,
                params=CheckParams(threshold=self.settings.threshold),
                verifier=make_verifier(self.settings, self.llm),
                drop_unsupported=self.settings.unsupported == "drop",
            )
            text = checked.text
            if not checked.text:  # every sentence was unsupported and dropped
                abstained, text = True, abstention(question)
        citations: list[Citation] = []
        sentences = [SentenceCheck(text.strip(), [], True, 1.0, False, 0, len(text.strip()))]
        dropped: list[int] = []
        if checked is not None and not abstained:
            for i, p in enumerate(checked.order, 1):
                spans = list(checked.quotes.get(p, []))
                spans += [q for q in quotes.get(p, []) if q not in spans]
                citations.append(Citation(n=i, hit=hits[p - 1], quotes=sorted(spans)))
            sentences = checked.sentences
            dropped = checked.dropped_markers
        now = time.perf_counter()
        if removed:
            text = text.strip() + " " + removed
        return Answer(
            question=question,
            text=text.strip(),
            citations=citations,
            hits=list(hits),
            abstained=abstained,
            model=model,
            raw_text=raw,
            dropped_markers=dropped,
            timings_ms={"generate": (t1 - t0) * 1000, "check": (now - t1) * 1000},
            sentences=sentences,
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
