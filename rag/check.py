"""The support check: each sentence of a draft answer against the passages it was shown.

    draft (with [n] markers, passage numbers) ─check→ Answer(text, [Citation], sentences)

It runs on both answerers' drafts, after generation. A sentence is cut into claims at its
citation markers ("145 people died [1]; the other article says over 140 [2]." is two);
each claim is checked against its cited passages, then:
- a claim with no valid marker gets the shown passage that supports it best, if any does;
- a marker whose passage does not support its claim is moved to the passage that does,
  or dropped;
- a claim that no passage supports stays, marked unsupported (or the sentence is removed
  with `check.unsupported = "drop"`).
A short framing word ("Yes.", "No.") or a heading-like lead ("Key points:") is not a claim.

Support, offline (no model but the bundled encoder):
- every number in the claim must be in the passage (or its date): a number that differs
  counts against support; so must every name (capitalised words, titles aside);
- then a score: the share of the claim's content terms found in the passage, and the
  cosine of the claim to the passage's closest sentence (the passage's stored sentence
  vectors, or the sentences embedded alone); supported at `threshold` and above;
- a claim that states the passage's words verbatim is supported outright, one whose
  negation differs from its closest passage sentence is not.
Sentences that `usable(chunk, span)` rejects never count as support: by default those
`rag.injection` flagged as orders to AI systems. An optional `Verifier` (an LLM asked
YES/NO, `rag.verify`) decides instead of the score, for the candidates that pass the
number and name checks.

What it does not do: generate, retrieve, or print.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rag import cite
from rag.claims import (
    ATTRIBUTION,
    FRAMING,
    INSTRUCTION,
    MONTHS,
    Segment,
    acronyms,
    claim_terms,
    is_claim,
    merge_small,
    name_in,
    name_words,
    names,
    negated,
    norm,
    numbers,
    segments,
    sentence_spans,
)
from rag.injection import flagged
from rag.paraphrase import keys
from rag.text import terms, words
from rag.types import Chunk, Hit, SentenceCheck

if TYPE_CHECKING:
    import numpy as np

EmbedFn = Callable[[Sequence[str]], "np.ndarray"]
Usable = Callable[[Chunk, tuple[int, int]], bool]
Span = tuple[int, int]

ABSTAIN_PREFIX = "The indexed articles don't say"


class Verifier(Protocol):
    def verify(self, sentence: str, passage: str) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class CheckParams:
    threshold: float = 0.70  # score at which a claim counts as supported
    w_terms: float = 0.3  # weight of term coverage (the rest: cosine)
    min_terms: int = 2  # fewer content terms (and no number or name): not a claim
    # the index's late-chunked sentence vectors instead of the sentences embedded alone
    # (free, but on data/gold/support.jsonl: P .96 R .93 against .95 / .95)
    stored_vectors: bool = False
    anchor_bonus: float = 0.1  # added when the closest sentence holds all names and numbers
    local_sentences: int = 1  # a claim's names and numbers must be in its closest sentences


DEFAULT = CheckParams()

# --------------------------------------------------------------------------- passages


@dataclass(slots=True)
class _Sentence:
    span: Span
    text: str
    norm: str
    negated: bool = False  # the rest is filled by `_complete` when a claim needs it
    terms: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    numbers: set[float] = field(default_factory=set)


@dataclass(slots=True)
class _Passage:
    sentences: list[_Sentence]
    keep: list[int]  # indexes of the chunk's sentences that may support (usable)
    terms: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)  # title, source and date words (names)
    numbers: set[float] = field(default_factory=set)  # the date's
    complete: bool = False
    vectors: Any = None  # (n_sentences, dim), rows of usable sentences


@dataclass(slots=True)
class Support:
    score: float
    supported: bool
    spans: list[Span] = field(default_factory=list)
    reason: str = ""


def _passage(hit: Hit, usable: Usable) -> _Passage:
    """The usable sentences of a passage, with just what a verbatim match needs."""
    c = hit.chunk
    keep: list[int] = []
    sents: list[_Sentence] = []
    for i, (s, e) in enumerate(c.sentences or [(c.start, c.end)]):
        if usable(c, (s, e)):
            text = c.text[s - c.start : e - c.start]
            keep.append(i)
            sents.append(_Sentence((s, e), text, norm(text)))
    return _Passage(sents, keep)


def _complete(p: _Passage, hit: Hit) -> None:
    """Terms, names, numbers and negation of each sentence, and the passage's metadata."""
    if p.complete:
        return
    for x in p.sentences:
        x.negated, x.terms, x.numbers = negated(x.text), claim_terms(x.text), numbers(x.text)
        x.words = set(name_words(x.text)) | acronyms(x.text)
    meta = " ".join(x for x in (hit.doc.title, hit.doc.source or "") if x)
    p.terms = claim_terms(meta).union(*(x.terms for x in p.sentences))
    p.words = set(name_words(meta)) | acronyms(meta)
    date = (hit.doc.published_at or "")[:10]
    if date:
        y, m, d = [*date.split("-"), "", ""][:3]
        p.numbers = {float(part) for part in (y, m, d) if part.isdigit()}
        if m.isdigit() and 1 <= int(m) <= 12:
            p.words.add(MONTHS[int(m) - 1])
    p.complete = True


def default_usable(chunk: Chunk, span: Span) -> bool:
    """A sentence may support a claim unless it is flagged as an order to AI systems
    (`rag.injection`, stored with the chunk) or reads like one (for chunks of an index
    built before flags were stored)."""
    if flagged(chunk, span):
        return False
    return INSTRUCTION.search(chunk.text[span[0] - chunk.start : span[1] - chunk.start]) is None


# --------------------------------------------------------------------------- support


class Checker:
    """Support of claims by the passages shown for one answer (1..k, as `hits`)."""

    def __init__(
        self,
        hits: Sequence[Hit],
        embed: EmbedFn | None = None,
        params: CheckParams = DEFAULT,
        usable: Usable = default_usable,
        verifier: Verifier | None = None,
    ) -> None:
        self.hits = list(hits)
        self.embed = embed
        self.params = params
        self.verifier = verifier
        self.passages = [_passage(h, usable) for h in self.hits]
        self._vocab: tuple[set[str], set[str]] | None = None

    def vocab(self) -> tuple[set[str], set[str]]:
        """(words the passages capitalise mid-sentence and never write in lowercase, every
        word they use): what tells a name at the start of a claim."""
        if self._vocab is None:
            caps: list[str] = []
            lower: list[str] = []
            for h, p in zip(self.hits, self.passages, strict=True):
                _complete(p, h)
                for s in p.sentences:
                    for tok in s.text.split()[1:]:
                        core = tok.strip("“”\"'‘’()[],.;:!?—–")
                        (caps if core[:1].isupper() else lower).append(core)
            up, low = set(words(" ".join(caps))), set(words(" ".join(lower)))
            seen = up | low | {w for p in self.passages for s in p.sentences for w in s.words}
            self._vocab = (up - low, seen)
        return self._vocab

    @property
    def known_caps(self) -> set[str]:
        return self.vocab()[0]

    # -- vectors
    def _ensure_vectors(self, idx: Sequence[int]) -> bool:
        """Sentence vectors of these passages (embedded once, when first needed)."""
        if self.embed is None:
            return False
        import numpy as np

        todo = [i for i in idx if self.passages[i].vectors is None and self.passages[i].sentences]
        stored = self.params.stored_vectors
        for i in list(todo):
            h = self.hits[i]
            n = len(h.chunk.sentences or [None])
            if stored and h.sentence_vectors is not None and len(h.sentence_vectors) == n:
                vecs = np.asarray(h.sentence_vectors, dtype=np.float32)
                self.passages[i].vectors = vecs[self.passages[i].keep]
                todo.remove(i)
        if todo:
            flat = [s.text for i in todo for s in self.passages[i].sentences]
            vecs = np.asarray(self.embed(flat), dtype=np.float32)
            at = 0
            for i in todo:
                n = len(self.passages[i].sentences)
                self.passages[i].vectors = vecs[at : at + n]
                at += n
        return all(self.passages[i].vectors is not None for i in idx if self.passages[i].sentences)

    def _claim_vector(self, claim: str) -> Any:
        import numpy as np

        assert self.embed is not None
        return np.asarray(self.embed([claim])[0], dtype=np.float32)

    # -- one claim against one passage or the union of several (0-based indexes)
    def support(self, claim: str, idx: Sequence[int]) -> Support:
        ps = [self.passages[i] for i in idx]
        sents = [(i, s) for i, p in zip(idx, ps, strict=True) for s in p.sentences]
        if not sents:
            return Support(0.0, False, reason="no usable sentence")
        plain = norm(claim)
        if len(plain.split()) >= 4:
            for _, s in sents:
                if plain in s.norm:
                    return Support(1.0, True, [s.span], "verbatim")
        for i in idx:
            _complete(self.passages[i], self.hits[i])
        c_terms = claim_terms(claim) - ATTRIBUTION
        p_terms = set().union(*(p.terms for p in ps))
        c_nums, c_names = numbers(claim), names(claim, *self.vocab())
        cover = len(c_terms & p_terms) / len(c_terms) if c_terms else float(bool(c_nums or c_names))
        # the passage sentences closest to the claim: by meaning, else by shared terms
        if self._ensure_vectors(idx):
            import numpy as np

            cv = self._claim_vector(claim)
            sims = np.concatenate([p.vectors @ cv for p in ps if len(p.sentences)])
            sim = [float(x) for x in sims]
            dense = max(max(sim), 0.0)
        else:
            sim = [len(c_terms & s.terms) / (len(c_terms) or 1) for _, s in sents]
            dense = cover
        # closest by meaning and shared words (a short claim's meaning alone misleads)
        share = [len(c_terms & s.terms) / (len(c_terms) or 1) for _, s in sents]
        order = sorted(range(len(sents)), key=lambda j: -(sim[j] + share[j]))
        best = sents[order[0]][1]
        local = [sents[j][1] for j in order[: self.params.local_sentences * len(ps)]]
        # names and numbers must be where the claim's words are, not anywhere in the passage
        pool_nums = set().union(*(p.numbers for p in ps), *(x.numbers for x in local))
        pool_words = set().union(*(p.words for p in ps), *(x.words for x in local))
        missing_nums = [x for x in c_nums if not any(abs(x - y) < 1e-9 for y in pool_nums)]
        missing_names = [w for w in c_names if not name_in(w, pool_words)]
        w = self.params.w_terms
        score = w * cover + (1 - w) * dense
        # a short claim means little to the encoder; its numbers and names, all in the
        # closest sentence beside most of its words, are the evidence instead
        if (c_nums or c_names) and cover >= 0.6 and not missing_nums and not missing_names:
            held = all(any(abs(x - y) < 1e-9 for y in best.numbers) for x in c_nums)
            if held and all(name_in(n, best.words) for n in c_names):
                score += self.params.anchor_bonus
                # a bare answer ("2003.", "Igor Krasnov.") is its names and numbers
                rest = c_terms - set(terms(" ".join(c_names))) - {f"{x:g}" for x in c_nums}
                # ... and a short one ("145 people died") whose every word (or a paraphrase:
                # "killed" for "died") is there too
                c_keys = keys(c_terms)
                short = len(c_keys) <= 4 and c_keys <= keys(best.terms)
                if not rest or short:
                    score = max(score, self.params.threshold)
        spans = [best.span]
        if missing_nums:
            shown = ", ".join(f"{x:g}" for x in missing_nums[:3])
            return Support(score * 0.5, False, spans, f"number {shown} not in the passage")
        if missing_names:
            shown = " ".join(missing_names[:3])
            return Support(score * 0.5, False, spans, f"name {shown} not in the passage")
        if negated(claim) != best.negated:
            return Support(score * 0.5, False, spans, "negation differs from the passage")
        return Support(score, score >= self.params.threshold, spans, "score")

    # -- which passages a claim ends up cited to
    def resolve(self, claim: str, cited: Sequence[int]) -> tuple[list[int], Support]:
        """Passage numbers (1-based) that support `claim`, cited ones first; [] if none."""
        k = len(self.passages)
        first = {p: self.support(claim, [p - 1]) for p in cited}
        good = [p for p in cited if first[p].supported]
        if good and self.verifier is None:
            return good, max((first[p] for p in good), key=lambda s: s.score)
        scores = {p: first.get(p) or self.support(claim, [p - 1]) for p in range(1, k + 1)}
        if self.verifier is not None:
            return self._verified(claim, cited, scores)
        if len(cited) >= 2:
            union = self.support(claim, [p - 1 for p in cited])
            if union.supported:
                return list(cited), union
        ranked = sorted(scores, key=lambda p: -scores[p].score)
        if ranked and scores[ranked[0]].supported:
            return [ranked[0]], scores[ranked[0]]
        if len(ranked) >= 2:
            pair = ranked[:2]
            union = self.support(claim, [p - 1 for p in pair])
            if union.supported and all(scores[p].score > 0 for p in pair):
                return pair, union
        best = max(scores.values(), key=lambda s: s.score, default=Support(0.0, False))
        return [], Support(best.score, False, [], best.reason)

    def _verified(
        self, claim: str, cited: Sequence[int], scores: dict[int, Support]
    ) -> tuple[list[int], Support]:
        """The verifier decides, for up to 3 candidates that pass the number and name
        checks: cited passages first, then the others by score."""
        assert self.verifier is not None
        order = list(dict.fromkeys([*cited, *sorted(scores, key=lambda p: -scores[p].score)]))
        tried = 0
        for p in order:
            s = scores[p]
            if s.reason not in ("score", "verbatim") or (p not in cited and s.score < 0.3):
                continue
            if tried >= 3:
                break
            tried += 1
            text = " ".join(x.text for x in self.passages[p - 1].sentences)
            verdict = self.verifier.verify(claim, text)
            if verdict is None:
                verdict = s.supported
            if verdict:
                return [p], Support(s.score, True, s.spans, "verified")
        best = max(scores.values(), key=lambda s: s.score, default=Support(0.0, False))
        return [], Support(best.score, False, [], "verifier said no")


@dataclass(slots=True)
class Checked:
    """A checked draft: display text, which passages its [n] are, and each sentence."""

    text: str
    order: list[int]  # passage numbers (1-based) in order of display number
    quotes: dict[int, list[Span]]
    sentences: list[SentenceCheck]
    dropped_markers: list[int]
    removed: int  # sentences removed as unsupported


def check_draft(
    draft: str,
    hits: Sequence[Hit],
    *,
    embed: EmbedFn | None = None,
    params: CheckParams = DEFAULT,
    usable: Usable = default_usable,
    verifier: Verifier | None = None,
    drop_unsupported: bool = False,
) -> Checked:
    """Check every claim of `draft` (markers are passage numbers 1..len(hits))."""
    checker = Checker(hits, embed, params, usable, verifier)
    valid = set(range(1, len(hits) + 1))
    dropped: list[int] = []
    renum = cite.Renumbering(valid)
    quotes: dict[int, list[Span]] = {}
    out: list[str] = []
    sentences: list[SentenceCheck] = []
    shown: list[str] = []  # each kept sentence as rendered
    removed = 0
    pos = 0
    for s, e in sentence_spans(draft):
        sentence = draft[s:e]
        plain = cite.MARKER.sub("", sentence).strip()
        if plain.startswith(ABSTAIN_PREFIX):
            segs = [Segment(plain, "", [], claim=False)]
        else:
            segs = merge_small(
                segments(sentence, valid, dropped), params.min_terms, lambda: checker.known_caps
            )
        for seg in segs:
            seg.claim = seg.claim and (
                is_claim(seg.body, params.min_terms, lambda: checker.known_caps)
                or (bool(seg.cited) and not FRAMING.match(seg.body.strip()))
            )
            if seg.claim:
                seg.final, seg.support = checker.resolve(seg.body.strip(), seg.cited)
        claims = [g for g in segs if g.claim]
        ok = all(g.support is not None and g.support.supported for g in claims)
        if drop_unsupported and not ok:
            removed += 1
            pos = e  # the space after it separates its neighbours
            continue
        rendered = []
        cites: list[int] = []
        for seg in segs:
            nums = [d for p in seg.final if (d := renum.display(p)) is not None]
            for p in seg.final:
                assert seg.support is not None
                spans = quotes.setdefault(p, [])
                c = hits[p - 1].chunk
                for span in seg.support.spans:
                    if c.start <= span[0] < span[1] <= c.end and span not in spans:
                        spans.append(span)
            cites += [d for d in nums if d not in cites]
            marks = "".join(f"[{d}]" for d in nums)
            rendered.append(seg.body.rstrip() + (" " + marks if marks else "") + seg.tail)
        text = "".join(rendered).strip()
        shown.append(text)
        out.append(draft[pos:s] + text)
        pos = e
        scores = [g.support.score for g in claims if g.support is not None]
        sentences.append(
            SentenceCheck(
                text=cite.MARKER.sub("", text).strip(),
                citations=cites,
                supported=ok,
                score=round(min(scores), 4) if scores else 1.0,
                claim=bool(claims),
            )
        )
    out.append(draft[pos:] if pos < len(draft) else "")
    final = re.sub(r"[ \t]+\n", "\n", "".join(out)).strip()
    at = 0
    for sc, text in zip(sentences, shown, strict=True):
        i = final.find(text, at)
        if i >= 0:
            sc.start, sc.end = i, i + len(text)
            at = sc.end
    return Checked(
        final, list(renum.order), quotes, sentences, list(dict.fromkeys(dropped)), removed
    )
