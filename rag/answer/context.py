"""What every composer works with: the plan, the quotable sentences and their vectors,
and scoring of those sentences for one part of the question.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.answer import evidence, subject
from rag.answer.evidence import EmbedFn, Sentence
from rag.answer.plan import Part, Plan
from rag.types import Hit

if TYPE_CHECKING:
    import numpy as np

_MONTH_ABBR = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True, slots=True)
class IndexFacts:
    """What the answerer may ask of the whole index (the passages are only the top k)."""

    source: Callable[[str], bool] | None = None  # does it hold articles from this outlet?
    term: Callable[[str], bool] | None = None  # does any of its passages hold this term?


@dataclass
class Context:
    plan: Plan
    hits: Sequence[Hit]
    sents: list[Sentence]
    sv: Any  # np.ndarray (n, dim)
    embed: EmbedFn
    facts: IndexFacts = field(default_factory=IndexFacts)
    _qvecs: dict[str, Any] = field(default_factory=dict)
    _weights: dict[tuple[str, ...], dict[str, float]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, plan: Plan, hits: Sequence[Hit], embed: EmbedFn, facts: IndexFacts | None = None
    ) -> Context | None:
        sents = evidence.sentences(hits)
        if not sents:
            return None
        evidence.embed_missing(sents, embed)
        return cls(plan, hits, sents, evidence.matrix(sents), embed, facts or IndexFacts())

    def only(self, doc_ids: set[str]) -> Context:
        """The same context with the sentences of these articles only."""
        from dataclasses import replace

        return replace(self, sents=[s for s in self.sents if s.doc_id in doc_ids], _weights={})

    def doc_text(self, doc_id: str) -> str:
        """What the shown passages of one article hold, with its title."""
        hs = [h for h in self.hits if h.chunk.doc_id == doc_id]
        return " ".join([hs[0].doc.title, *(h.chunk.text for h in hs)]) if hs else ""

    def qvec(self, text: str) -> np.ndarray:
        import numpy as np

        v = self._qvecs.get(text)
        if v is None:
            v = self._qvecs[text] = np.asarray(self.embed([text])[0], dtype=np.float32)
        return v

    def rank(self, part: Part, text: str | None = None) -> list[Sentence]:
        """The sentences scored for a part (best first); scores are set on the sentences."""
        query = text or part.text
        evidence.score(self.sents, query, self.qvec(query), self.sv)
        if self.plan.latest:  # "the latest": the newest article's sentences first
            dates = sorted({s.date for s in self.sents if s.date})
            for s in self.sents:
                if s.date and len(dates) > 1:
                    s.score += 0.15 * dates.index(s.date) / (len(dates) - 1)
        return sorted(self.sents, key=lambda s: -s.score)

    def similarity(self, a: Sentence, b: Sentence) -> float:
        return float(self.sv[a.order] @ self.sv[b.order])

    # -- what the passages hold
    def texts(self) -> list[str]:
        """Every passage's text and its article's title (to look names up in)."""
        return [h.chunk.text for h in self.hits] + [h.doc.title for h in self.hits]

    def term_weights(self, wanted: Sequence[str]) -> dict[str, float]:
        """Rarer terms among the sentences weigh more (the story's topic weighs little)."""
        key = tuple(wanted)
        out = self._weights.get(key)
        if out is None:
            n = len(self.sents)
            out = {}
            for t in wanted:
                df = sum(subject.has(s.keys, t) for s in self.sents)
                out[t] = math.log(1 + (n + 1) / (1 + df))
            self._weights[key] = out
        return out


def attribution(s: Sentence) -> str:
    """ "TechCrunch, 6 Oct 2023" / "“Russia Lifts Ban on Taliban…”" for a sentence's article."""
    date = human_date(s.date)
    if s.source:
        return f"{s.source}, {date}" if date else s.source
    title = s.title if len(s.title) <= 60 else s.title[:57].rsplit(" ", 1)[0] + "…"
    return f"“{title}”" + (f", {date}" if date else "")


def human_date(iso: str | None) -> str:
    if not iso or len(iso) < 10:
        return iso or ""
    try:
        y, m, d = int(iso[:4]), int(iso[5:7]), int(iso[8:10])
        return f"{d} {_MONTH_ABBR[m - 1]} {y}"
    except (ValueError, IndexError):
        return iso
