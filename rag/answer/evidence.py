"""The sentences of the shown passages that an answer may quote, each scored for a query.

Only prose is quoted: headings, bylines, datelines, "Published …" lines, navigation,
advertising, questions and lines too short to say anything are left out, and so is any
sentence that addresses a machine reader (`rag.answer.guard`). A sentence repeated by
overlapping chunks appears once. Each `Sentence` knows its passage number (1-based, as
shown), its span in the document and its document's title, source and date.

`score()` ranks sentences for one query by meaning (cosine of the stored late-chunked
sentence vector to the query vector), by the query's content terms (weighted by how rare
they are among the sentences) and by the passage's rank.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.answer.guard import addresses_a_machine
from rag.answer.subject import has
from rag.injection import flagged
from rag.paraphrase import keys
from rag.text import terms
from rag.types import Hit

if TYPE_CHECKING:
    import numpy as np

EmbedFn = Callable[[Sequence[str]], "np.ndarray"]

_JUNK = re.compile(
    r"^(?:related (?:sources|articles|stories|coverage)|sources?\s*:|read more|advertisement|"
    r"sponsored|subscribe|sign up|follow us|share this|click here|buy (?:now|the)|shop now|"
    r"image:|photo:|credit:|copyright|©|all rights reserved|published\b|updated\b|posted\b|"
    r"by [A-Z][\w.\-]+(?: [A-Z][\w.\-]+){0,3}\s*(?:$|,|\||·)|[•\-–*]\s)",
    re.I,
)
_DATELINE = re.compile(r"^[A-Z][A-Z .'\-]{2,30}(?:,\s*[A-Z][\w. ]+)?\s*[—–-]{1,2}\s*$")
_PUBLISHED = re.compile(
    r"^(?:published|updated|posted|last updated|first published)\b|^\d{1,2}\s+\w+\s+\d{4}$|"
    r"^\w+\s+\d{1,2},\s+\d{4}$|^\d{4}-\d\d-\d\d",
    re.I,
)
REFERS_BACK = re.compile(
    r"^(?:(?:unlike|like|as with|beyond|despite|after) (?:those|these|that|this|such)|the|"
    r"this|that|these|those|it|its|he|his|she|her|they|their|such)\b",
    re.I,
)
_END = re.compile(r"[.!?…”\"’)\]]$")
LEAD = re.compile(
    r"^(?:notably|in fact|indeed|however|but|and|yet|still|meanwhile|moreover|furthermore|"
    r"also|so|thus|previously|fast-forward to today)\s*[,:]?\s+",
    re.I,
)


@dataclass(slots=True)
class Sentence:
    passage: int  # 1-based number of the passage shown
    start: int  # span in the document
    end: int
    text: str
    doc_id: str
    title: str
    source: str | None
    date: str | None  # YYYY-MM-DD of the article, when known
    order: int  # position among all sentences (passage order, then reading order)
    before: str = ""  # the previous sentence of the passage
    vector: Any = None
    terms: frozenset[str] = frozenset()
    # for a sentence that opens by referring back ("The request, initiated by ..."): the
    # previous sentence's vector and terms, which say what it refers to
    before_vector: Any = None
    before_terms: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()  # terms as paraphrase classes (rag.paraphrase)
    all_keys: frozenset[str] = frozenset()  # with those of the sentence referred back to
    # scores for the current query (see `score`)
    dense: float = 0.0
    lexical: float = 0.0
    score: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def is_prose(text: str) -> bool:
    """A sentence worth quoting: not a heading, byline, dateline, date line, navigation,
    advertising, or a question."""
    t = text.strip()
    n = len(t.split())
    if n < 4:
        return False
    if _JUNK.match(t) or _DATELINE.match(t) or _PUBLISHED.match(t):
        return False
    if t.rstrip("”’\"' )").endswith("?"):
        return False
    if not _END.search(t):  # a heading: no final punctuation, mostly capitalised words
        caps = sum(1 for w in t.split() if w[:1].isupper())
        if n <= 14 or caps >= 0.5 * n:
            return False
    return not t.startswith("#")


def sentences(hits: Sequence[Hit]) -> list[Sentence]:
    """The quotable sentences of the passages, in passage order."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Sentence] = []
    for n, h in enumerate(hits, 1):
        c = h.chunk
        stored = h.sentence_vectors
        if stored is not None and len(stored) != len(c.sentences):
            stored = None
        previous = ""
        date = (h.doc.published_at or "")[:10] or None
        for k, (s, e) in enumerate(c.sentences or [(c.start, c.end)]):
            key = (c.doc_id, s, e)
            text = c.text[s - c.start : e - c.start].strip()
            before, previous = previous, text
            refers = bool(before) and REFERS_BACK.match(LEAD.sub("", text)) is not None
            if key in seen:
                continue
            seen.add(key)
            if not is_prose(text) or addresses_a_machine(text) or flagged(c, (s, e)):
                continue
            out.append(
                Sentence(
                    passage=n,
                    start=s,
                    end=e,
                    text=text,
                    doc_id=c.doc_id,
                    title=h.doc.title,
                    source=h.doc.source,
                    date=date,
                    order=len(out),
                    before=before,
                    vector=stored[k] if stored is not None else None,
                    terms=frozenset(terms(text)),
                    before_vector=stored[k - 1] if refers and stored is not None else None,
                    before_terms=frozenset(terms(before)) if refers else frozenset(),
                )
            )
            last = out[-1]
            last.keys = keys(last.terms)
            last.all_keys = last.keys | keys(last.before_terms)
    return out


def embed_missing(sents: Sequence[Sentence], embed: EmbedFn) -> None:
    """Vectors for sentences of an index without stored sentence vectors."""
    missing = [s for s in sents if s.vector is None]
    if missing:
        for s, v in zip(missing, embed([s.text for s in missing]), strict=True):
            s.vector = v


def matrix(sents: Sequence[Sentence]) -> np.ndarray:
    import numpy as np

    return np.stack([np.asarray(s.vector, dtype=np.float32) for s in sents])


@dataclass(frozen=True, slots=True)
class Weights:
    dense: float = 0.55
    lexical: float = 0.35
    rank: float = 0.05


def score(
    sents: Sequence[Sentence],
    query: str,
    qvec: np.ndarray,
    sv: np.ndarray,
    w: Weights = Weights(),
    query_terms: Sequence[str] | None = None,
) -> None:
    """Set each sentence's dense, lexical and combined score for `query`."""
    q_terms = set(query_terms if query_terms is not None else terms(query))
    n = len(sents)
    df = {t: sum(has(s.keys, t) for s in sents) for t in q_terms}
    weights = {t: math.log(1 + (n + 1) / (1 + df[t])) for t in q_terms}
    total = sum(weights.values()) or 1.0
    import numpy as np

    dense = sv @ qvec
    for s in sents:
        s.dense = float(dense[s.order])
        s.lexical = sum(wt for t, wt in weights.items() if has(s.keys, t)) / total
        if s.before_terms:  # "The request, initiated by X": read with what it refers to
            lex = sum(wt for t, wt in weights.items() if has(s.all_keys, t)) / total
            s.lexical = max(s.lexical, 0.8 * lex)
            if s.before_vector is not None:
                v = np.asarray(s.before_vector, dtype=np.float32) + sv[s.order]
                s.dense = max(s.dense, float(v @ qvec) / (float(np.linalg.norm(v)) or 1.0))
        s.score = w.dense * s.dense + w.lexical * s.lexical + w.rank / s.passage


def tidy(text: str) -> str:
    """A quoted sentence as it opens an answer sentence: no leading "However," etc."""
    s = LEAD.sub("", text.strip()).strip()
    s = re.sub(r"^[•\-–*]\s*", "", s)
    if s and s[0].islower():
        s = s[0].upper() + s[1:]
    return s
