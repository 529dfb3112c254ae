"""Passages → the few sentences of each that matter for the question, for an LLM prompt.

On a CPU, reading the prompt dominates a local model's time to first token (about 42
tokens/s for a 1.5B model here), and five whole 256-token passages are most of it. So
each passage shown to an LLM keeps only its sentences that bear on the question:
- scored by meaning (the question's vector against the sentence vectors the index
  stores, when it has them) and by words (the question's content terms, each weighted by
  how rare it is among all the candidate sentences);
- at most `max_sentences` per passage (its best one always), in document order, with
  " … " where sentences were left out.
Each kept sentence keeps its (start, end) span in the article, so a citation of the
passage still points at the text the model read.

What it does not do: drop passages (their numbers stay 1..k, as retrieved), change the
offline answerer's input, or decide support (see `rag.check`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.text import terms
from rag.types import Chunk, Hit

if TYPE_CHECKING:
    import numpy as np

EmbedFn = Callable[[Sequence[str]], "np.ndarray"]


@dataclass(slots=True)
class Trimmed:
    """What is left of one passage: its text for the prompt and the spans it holds."""

    text: str
    spans: list[tuple[int, int]]
    whole: bool  # nothing was left out


def trim_passages(
    question: str,
    hits: Sequence[Hit],
    max_sentences: int,
    embed: EmbedFn | None = None,
    w_dense: float = 0.6,
    skip: Callable[[Chunk, tuple[int, int]], bool] | None = None,
) -> list[Trimmed]:
    """The sentences of each hit worth showing for `question` (0: whole passages); a
    sentence `skip` rejects (a flagged one, rag.injection) gets a slot only if nothing
    else is left."""
    sents: list[list[tuple[int, int, str]]] = []
    for h in hits:
        c = h.chunk
        spans = c.sentences or [(c.start, c.end)]
        sents.append([(s, e, c.text[s - c.start : e - c.start]) for s, e in spans])
    if max_sentences <= 0:
        return [_whole(h, ss) for h, ss in zip(hits, sents, strict=True)]

    q_terms = set(terms(question))
    all_terms = [[set(terms(t)) for _, _, t in ss] for ss in sents]
    n = sum(len(ts) for ts in all_terms) or 1
    df = {t: sum(t in st for ts in all_terms for st in ts) for t in q_terms}
    weight = {t: math.log(1 + (n + 1) / (1 + df[t])) for t in q_terms}
    total = sum(weight.values()) or 1.0
    qv = None
    if embed is not None and any(_vectors(h) is not None for h in hits):
        import numpy as np

        qv = np.asarray(embed([question])[0], dtype=np.float32)

    out: list[Trimmed] = []
    for h, ss, ts in zip(hits, sents, all_terms, strict=True):
        if len(ss) <= max_sentences:
            out.append(_whole(h, ss))
            continue
        vecs = _vectors(h)
        scores = []
        for i, st in enumerate(ts):
            lexical = sum(w for t, w in weight.items() if t in st) / total
            dense = float(vecs[i] @ qv) if vecs is not None and qv is not None else 0.0
            w = w_dense if vecs is not None and qv is not None else 0.0
            scores.append(w * dense + (1 - w) * lexical)
            if skip is not None and skip(h.chunk, ss[i][:2]):
                scores[-1] = -1.0
        keep = sorted(sorted(range(len(ss)), key=lambda i: -scores[i])[:max_sentences])
        parts, spans, last = [], [], None
        for i in keep:
            if last is not None and i != last + 1:
                parts.append("…")
            parts.append(ss[i][2])
            spans.append((ss[i][0], ss[i][1]))
            last = i
        if keep[0] > 0:
            parts.insert(0, "…")
        if keep[-1] < len(ss) - 1:
            parts.append("…")
        out.append(Trimmed(" ".join(parts), spans, False))
    return out


def _whole(h: Hit, ss: list[tuple[int, int, str]]) -> Trimmed:
    return Trimmed(h.chunk.text, [(s, e) for s, e, _ in ss], True)


def _vectors(h: Hit) -> np.ndarray | None:
    v = h.sentence_vectors
    if v is None or len(v) != len(h.chunk.sentences or [None]):
        return None
    return v
