"""Scores of one evaluated question: retrieval, answer and citations. Pure functions.

Every function returns `None` for a metric that does not apply to the item (never NaN),
so that aggregates can average over the items where it does apply.

Retrieval (MultiHop-RAG's definitions, README of data/multihop-rag): white space is
removed from chunk texts and gold facts; a chunk is relevant when some fact is a
substring of it. Without facts, a chunk is relevant when it comes from a gold source
document, and the "facts" to cover are the source documents. At each rank we note which
targets (facts or documents) are matched for the first time; then
- hit@k: some relevant chunk in the top k;
- recall@k: share of targets matched in the top k;
- MRR@10: 1 / rank of the first relevant chunk (0 if none in the top 10);
- MAP@10 (the paper's form): sum over ranks r of (newly matched targets at r) / r,
  divided by min(number of targets, 10);
- nDCG@10: binary gain at the ranks that match a new target, 1 / log2(r + 1), divided
  by the ideal (min(targets, 10) such ranks at the top); in [0, 1].

Answers: citation markers are removed, then SQuAD normalisation (lowercase, punctuation
and articles removed, white space collapsed; see `normalize`).
Exact match, token F1 and containment (an alias appears as a whole-word sequence) are
each the max over the aliases. An abstention is scored as an empty answer (its text
quotes the question, which must not count as an answer).

Strict accuracy: a gold answer that is "yes" or "no" is matched by the answer's FIRST
yes/no word only (containment would let "yes or no" score); any other answerable item
by containment; an unanswerable item by abstaining. Key-point recall: the share of the
gold `points` (each a list of aliases) the answer contains, by the same normalised
whole-word containment.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag import cite

RANK_CUTOFF = 10
HIT_KS = (4, 10)

# --------------------------------------------------------------------------- retrieval


def squash(text: str) -> str:
    """The text with every white-space character removed."""
    return "".join(text.split())


@dataclass(slots=True, frozen=True)
class Ranked:
    """What retrieval metrics need of one hit."""

    doc_id: str
    text: str


def matched_targets(
    ranked: Sequence[Ranked], evidence: Sequence[str], sources: Sequence[str]
) -> tuple[list[set[int]], int] | None:
    """For each ranked chunk, the indexes of the targets it contains; and the target count.

    Targets are the (white-space-free) facts when there are any, else the source
    documents; None when there are neither.
    """
    facts = list(dict.fromkeys(f for f in (squash(e) for e in evidence) if f))
    if facts:
        texts = [squash(r.text) for r in ranked]
        return [{i for i, f in enumerate(facts) if f in t} for t in texts], len(facts)
    docs = list(dict.fromkeys(sources))
    if docs:
        pos = {d: i for i, d in enumerate(docs)}
        return [{pos[r.doc_id]} if r.doc_id in pos else set() for r in ranked], len(docs)
    return None


def retrieval_scores(
    ranked: Sequence[Ranked], evidence: Sequence[str], sources: Sequence[str]
) -> dict[str, float | None]:
    """hit@4, hit@10, recall@10, mrr@10, map@10, ndcg@10 of one ranked list (top 10 used)."""
    keys = [*(f"hit@{k}" for k in HIT_KS), "recall@10", "mrr@10", "map@10", "ndcg@10"]
    m = matched_targets(ranked[:RANK_CUTOFF], evidence, sources)
    if m is None:
        return dict.fromkeys(keys, None)
    per_rank, n_targets = m
    out: dict[str, float | None] = {}
    for k in HIT_KS:
        out[f"hit@{k}"] = float(any(per_rank[:k]))
    seen: set[int] = set()
    new_at: list[int] = []  # newly matched targets at each rank
    for s in per_rank:
        new_at.append(len(s - seen))
        seen |= s
    out["recall@10"] = len(seen) / n_targets
    first = next((r for r, s in enumerate(per_rank, 1) if s), None)
    out["mrr@10"] = 1.0 / first if first else 0.0
    denom = min(n_targets, RANK_CUTOFF)
    out["map@10"] = sum(n / r for r, n in enumerate(new_at, 1)) / denom
    dcg = sum(1.0 / math.log2(r + 1) for r, n in enumerate(new_at, 1) if n)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, denom + 1))
    out["ndcg@10"] = dcg / ideal
    return {k: out[k] for k in keys}


def chunk_relevant(doc_id: str, text: str, evidence: Sequence[str], sources: Sequence[str]) -> bool:
    """A passage is relevant when it contains a gold fact (or, without facts, is from a
    gold source document)."""
    m = matched_targets([Ranked(doc_id, text)], evidence, sources)
    return bool(m and m[0][0])


# --------------------------------------------------------------------------- answers

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_DASHES = frozenset("\u2013\u2014\u2015")


def strip_markers(text: str) -> str:
    return cite.MARKER.sub("", text or "")


def normalize(text: str) -> str:
    """SQuAD normalisation: lowercase, punctuation removed, articles removed, single spaces.

    As in the SQuAD script punctuation is deleted ("Bankman-Fried" → "bankmanfried");
    beyond ASCII, every Unicode punctuation character is deleted too (’ “ ”), except
    en and em dashes, which separate words ("concerns—posed" → "concerns posed").
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(
        " " if c in _DASHES else "" if unicodedata.category(c).startswith("P") else c for c in text
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(pred: str, aliases: Sequence[str]) -> float | None:
    if not aliases:
        return None
    p = normalize(pred)
    return float(any(p == normalize(a) for a in aliases))


def token_f1(pred: str, aliases: Sequence[str]) -> float | None:
    if not aliases:
        return None
    p = normalize(pred).split()
    best = 0.0
    for a in aliases:
        g = normalize(a).split()
        common = Counter(p) & Counter(g)
        same = sum(common.values())
        if not p or not g:
            f = float(p == g)
        elif same == 0:
            f = 0.0
        else:
            prec, rec = same / len(p), same / len(g)
            f = 2 * prec * rec / (prec + rec)
        best = max(best, f)
    return best


def containment(pred: str, aliases: Sequence[str]) -> float | None:
    """1 when some normalised alias appears in the normalised answer as whole words."""
    if not aliases:
        return None
    p = f" {normalize(pred)} "
    for a in aliases:
        na = normalize(a)
        if na and f" {na} " in p:
            return 1.0
    return 0.0


_YES_NO = frozenset({"yes", "no"})


def yes_no_gold(aliases: Sequence[str]) -> str | None:
    """ "yes" or "no" when the gold answer is one of them, else None."""
    found = {normalize(a) for a in aliases} & _YES_NO
    return found.pop() if len(found) == 1 else None


def first_yes_no(text: str) -> str | None:
    """The answer's first "yes" or "no" word (normalised), or None."""
    return next((w for w in normalize(text).split() if w in _YES_NO), None)


def strict_correct(pred: str, abstained: bool, aliases: Sequence[str]) -> float:
    """1.0 when right under the strict rule (module docstring), else 0.0."""
    if not aliases:
        return float(abstained)
    if abstained:
        return 0.0
    yn = yes_no_gold(aliases)
    if yn is not None:
        return float(first_yes_no(pred) == yn)
    return float(containment(pred, aliases) or 0.0)


def key_point_recall(pred: str, points: Sequence[Sequence[str]]) -> float | None:
    """Share of the key points whose some alias the answer contains; None without points."""
    if not points:
        return None
    return sum(bool(containment(pred, p)) for p in points) / len(points)


def answer_scores(
    text: str,
    abstained: bool,
    aliases: Sequence[str],
    correct: bool | None = None,
    points: Sequence[Sequence[str]] = (),
) -> dict[str, float | None]:
    """exact_match, f1, containment (None when unanswerable), strict accuracy, key-point
    recall (None without points), the abstention indicators and the CRAG-style outcome
    (+1 correct, 0 abstained, −1 wrong).

    `correct` overrides the strict rule as the judge of correctness (an LLM judge's verdict).
    For abstention precision the item counts when it abstained (1 if it was unanswerable);
    for recall when it is unanswerable (1 if it abstained): means over those items are the
    usual precision and recall.
    """
    pred = "" if abstained else strip_markers(text)
    answerable = bool(aliases)
    em = exact_match(pred, aliases)
    cont = containment(pred, aliases)
    strict = strict_correct(pred, abstained, aliases)
    if answerable:
        ok = bool(strict) if correct is None else correct
        crag = 0.0 if abstained else (1.0 if ok else -1.0)
    else:
        crag = 1.0 if abstained else -1.0
    return {
        "exact_match": em,
        "f1": token_f1(pred, aliases),
        "containment": cont,
        "strict": strict,
        "key_points": key_point_recall(pred, points) if answerable else None,
        "abstain_precision": (0.0 if answerable else 1.0) if abstained else None,
        "abstain_recall": None if answerable else float(abstained),
        "crag_score": crag,
    }


# --------------------------------------------------------------------------- citations


@dataclass(slots=True, frozen=True)
class Cited:
    """One citation of an answer: its display number and the passage it points to."""

    n: int
    doc_id: str
    text: str


def citation_scores(
    answer_text: str,
    raw_text: str,
    abstained: bool,
    n_shown: int,
    citations: Sequence[Cited],
    evidence: Sequence[str],
    sources: Sequence[str],
) -> dict[str, float | None]:
    """validity, coverage, precision, recall of an answer's citations.

    - validity: share of markers in the answerer's raw text that name a shown passage
      (1..n_shown); None without markers.
    - coverage: share of answer sentences with at least one marker.
    - precision: share of citations whose passage is relevant; None without citations or
      without gold evidence and sources.
    - recall: share of gold source documents cited at least once; None without sources.
    All None when the answer abstained.
    """
    none: dict[str, float | None] = dict.fromkeys(
        ("validity", "coverage", "precision", "recall"), None
    )
    if abstained:
        return none
    out = dict(none)
    raw = cite.markers(raw_text)
    if raw:
        out["validity"] = sum(1 for n in raw if 1 <= n <= n_shown) / len(raw)
    sentences = cite.split_sentences(answer_text)
    if sentences:
        out["coverage"] = sum(1 for s in sentences if cite.markers(s)) / len(sentences)
    if citations and (evidence or sources):
        rel = [chunk_relevant(c.doc_id, c.text, evidence, sources) for c in citations]
        out["precision"] = sum(rel) / len(rel)
    gold_docs = list(dict.fromkeys(sources))
    if gold_docs:
        cited = {c.doc_id for c in citations}
        out["recall"] = sum(1 for d in gold_docs if d in cited) / len(gold_docs)
    return out


def cited_pairs(answer_text: str, citations: Sequence[Cited]) -> list[tuple[str, Cited]]:
    """(sentence without markers, cited passage) for every marker of every sentence."""
    by_n = {c.n: c for c in citations}
    out: list[tuple[str, Cited]] = []
    for s in cite.split_sentences(answer_text):
        plain = " ".join(strip_markers(s).split())
        for n in dict.fromkeys(cite.markers(s)):
            if n in by_n and plain:
                out.append((plain, by_n[n]))
    return out


# --------------------------------------------------------------------------- helpers


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 100]); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def mean(values: Sequence[Any]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None
