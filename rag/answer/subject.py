"""Is a sentence about what the question asks? Terms, names and a few paraphrases.

A part of a question is about a subject: its names ("Igor Krasnov"), its numbers and
years ("1980s"), and its content terms ("GDP", "injured", "ambassador"). Evidence for it
must hold that subject, not only the story's general topic. Terms match by stem, or by a
small table of paraphrases news questions use ("died" ~ "deaths", "killed", "toll";
"asked for" ~ "request"). Question words ("say", "happen", "report") are not subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rag.answer.plan import GENERIC, Part
from rag.paraphrase import canon
from rag.text import terms, words

_GENERIC_TERMS = frozenset(t for w in GENERIC for t in terms(w))
_KIND_WORDS = frozenset(
    t
    for w in "why reason reasons cause causes when year date how many much who whom whose which "
    "what person individual company organization organisation country city number "
    "percentage amount total latest newest".split()
    for t in terms(w)
)


def has(sentence_keys: frozenset[str] | set[str], term: str) -> bool:
    """Does a sentence with these `keys` hold the term, or a paraphrase of it?"""
    return canon(term) in sentence_keys


def subject_terms(part: Part, drop: Iterable[str] = ()) -> list[str]:
    """The part's content terms that say what it is about (not how it asks)."""
    skip = _GENERIC_TERMS | _KIND_WORDS | set(drop)
    return [t for t in part.terms if t not in skip]


def name_found(name: str, texts: Sequence[str]) -> bool:
    """Does some text hold every word of the name (case and possessives ignored)?"""
    want = [w for w in words(name) if len(w) > 1]
    if not want:
        return True
    for t in texts:
        have = set(words(t))
        if all(w in have or any(h.startswith(w) for h in have) for w in want):
            return True
    return False


def coverage(
    sentence_terms: frozenset[str], wanted: Sequence[str], weight: dict[str, float]
) -> float:
    """Share of the wanted terms' weight the sentence holds (paraphrases count)."""
    total = sum(weight.get(t, 1.0) for t in wanted)
    if total <= 0:
        return 1.0
    return sum(weight.get(t, 1.0) for t in wanted if has(sentence_terms, t)) / total
