"""Compose the answer to one part of a question from the scored sentences, by kind.

- entity: the name the evidence gives, first ("Prosecutor General Igor Krasnov: …");
- date / number: the value first, with its sentence; different values for the same
  thing in different articles are said to differ, both cited;
- why / list / summary / describe / other: distinct points (rag/answer/points.py).
Every claim cites the passage its sentence comes from. A composer returns None when the
evidence does not hold the part's subject: the caller says so for that part.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer import subject, values
from rag.answer.context import Context, attribution, human_date
from rag.answer.draft import Claim
from rag.answer.evidence import Sentence, tidy
from rag.answer.plan import Part, focus_core
from rag.paraphrase import keys
from rag.text import terms, words


@dataclass(frozen=True, slots=True)
class Limits:
    min_score: float = 0.30  # below this no sentence answers the question
    min_dense: float = 0.25
    keep: float = 0.80  # further points must score this share of the best
    redundancy: float = 0.80  # cosine above which two sentences say the same thing
    subject_cover: float = 0.5  # share of the subject's weight a sentence must hold
    budget: dict[str, int] | None = None

    def words(self, kind: str) -> int:
        b = self.budget or {"why": 150, "summary": 150, "list": 110, "describe": 70}
        return b.get(kind, 80)


LIMITS = Limits()


def relevant(ranked: Sequence[Sentence], lim: Limits = LIMITS) -> bool:
    """Is the best sentence close enough to answer at all: in meaning, or (for a short
    question the encoder reads poorly: "How many died?") by holding its words?"""
    best = ranked[0]
    return best.score >= lim.min_score and (best.dense >= lim.min_dense or best.lexical >= 0.6)


def on_subject(ctx: Context, part: Part, s: Sentence, wanted: Sequence[str]) -> float:
    """Share of the part's subject weight the sentence (with the one before it, when it
    opens with "The request" or "It") holds."""
    return subject.coverage(s.all_keys, wanted, ctx.term_weights(wanted))


def claim_for(s: Sentence, lead: str = "", attribute: bool = False) -> Claim:
    body = tidy(s.text)
    if lead.endswith("— ") and lowerable(body):
        body = body[0].lower() + body[1:]
    if attribute:
        body = f"{attribution(s)}: {body[0].lower() + body[1:] if lowerable(body) else body}"
    text = f"{lead}{body}" if lead else body
    return Claim(text, [s.passage], [(s.passage, s.start, s.end)])


def lowerable(body: str) -> bool:
    first = body.split(" ", 1)[0]
    return first[:1].isupper() and first[1:].islower() and first.lower() in _COMMON_OPENERS


_COMMON_OPENERS = frozenset(
    "the a an in on at this that these those it its as after before for with while when "
    "by from since during although though there their his her our".split()
)


def common_keys(ctx: Context) -> frozenset[str]:
    """Terms most sentences hold (the story's topic: "Taliban", "Russia")."""
    n = len(ctx.sents)
    counts: dict[str, int] = {}
    for s in ctx.sents:
        for k in s.keys:
            counts[k] = counts.get(k, 0) + 1
    return frozenset(k for k, c in counts.items() if c > n / 4)


def names_given(part: Part, ranked: Sequence[Sentence]) -> bool:
    """A name the question gives means little to the embedding model: a sentence holding
    the whole name is on the subject even when its score is low."""
    for name in part.names:
        want = set(words(name))
        if len(want) >= 2 and any(want <= set(words(s.text)) for s in ranked[:20]):
            return True
    return False


# --------------------------------------------------------------------------- entities


def entity(ctx: Context, part: Part, lim: Limits = LIMITS) -> list[Claim] | None:
    """The name the evidence gives for "who" / "which company" / "which country" ..."""
    ranked = ctx.rank(part)
    if not relevant(ranked, lim):
        return None
    wanted = subject.subject_terms(part)
    q_words = set(words(part.text))
    sources = {h.doc.source.lower() for h in ctx.hits if h.doc.source}
    best_score = ranked[0].score
    head = _head(part.focus) if part.focus else ""
    known = _known_names(ctx)
    found: dict[str, dict] = {}
    top = [s for s in ranked[:20] if s.score >= 0.55 * best_score]
    covers = {id(s): on_subject(ctx, part, s, wanted) if wanted else 1.0 for s in top}
    max_cover = max(covers.values())
    pred = terms(part.predicate)
    for s in top:
        cover = covers[id(s)]
        if pred and subject.has(s.all_keys, pred[0]):
            cover += 0.3  # it says what was done: "The request, initiated by ..." for "who asked"
        for nm in values.names(s.text, known):
            if not _fits(nm, part.entity_type) or _given(nm.text, q_words, sources):
                continue
            if (
                part.entity_type == "place"
                and nm.kind == "other"
                and not _AT.search(s.text[: nm.start])
            ):
                continue  # "which city": not "the Taliban", a name no place is said to be
            if head and not _next_to(s.text, nm, head):
                continue  # "the name of the concert hall": a name given for the hall
            key = next((k for k in found if values.same_name(k, nm.text)), nm.text)
            e = found.setdefault(key, {"name": nm.text, "score": 0.0, "docs": set(), "best": s,
                                       "cover": 0.0, "kind": nm.kind})  # fmt: skip
            if len(nm.text) > len(e["name"]):
                e["name"], e["kind"] = nm.text, nm.kind
            e["score"] += s.score * (0.5 + cover)
            e["docs"].add(s.doc_id)
            if cover > e["cover"]:
                e["cover"], e["best"] = cover, s
    if not found:
        return None
    mentions = " ".join(h.chunk.text for h in ctx.hits)

    def total(e: dict) -> float:
        n = len(re.findall(re.escape(e["name"].split()[-1]), mentions))
        want = "person" if part.entity_type == "who" else part.entity_type
        typed = 0.3 if want and e["kind"] == want else 0.0
        return e["score"] + 0.25 * len(e["docs"]) + 0.1 * math.log1p(n) + typed

    need = min(lim.subject_cover * 0.6, 0.5 * max_cover) if wanted else 0.0
    ok = [e for e in found.values() if e["cover"] >= need]
    if not ok:
        return None
    best = max(ok, key=total)
    s = best["best"]
    name = _full_name(ctx, best["name"], known)
    if part.entity_type == "person" and " " not in name and best["kind"] != "person":
        return None  # a lone word ("Taliban") is no person's name
    claims = [claim_for(s, lead=f"{name}: ")]
    # the same name in other articles' sentences, for questions that span several
    seen = {s.doc_id}
    for other in ranked[1:12]:
        if other.doc_id in seen or other.score < 0.6 * best_score:
            continue
        if any(values.same_name(name, n.text) for n in values.names(other.text)):
            claims.append(claim_for(other, attribute=True))
            seen.add(other.doc_id)
        if len(claims) >= 3:
            break
    return claims


def _known_names(ctx: Context) -> frozenset[str]:
    """Single-word names used inside sentences of the passages ("Amazon")."""
    out = set()
    for s in ctx.sents:
        for nm in values.names(s.text):
            if " " not in nm.text:
                out.add(nm.text.lower())
    return frozenset(out)


def _full_name(ctx: Context, name: str, known: frozenset[str]) -> str:
    """The fuller form of a name the passages use ("Bankman-Fried" → "Sam Bankman-Fried",
    "Alameda" → "Alameda Research"): a longer name of at most four words that holds it,
    a person's, or one used at least twice."""
    counts: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for text in [h.chunk.text for h in ctx.hits] + [h.doc.title for h in ctx.hits]:
        for nm in values.names(text, known):
            n = len(nm.text.split())
            if len(nm.text) > len(name) and n <= 4 and values.same_name(name, nm.text):
                counts[nm.text] = counts.get(nm.text, 0) + 1
                kinds[nm.text] = nm.kind
    good = [t for t, c in counts.items() if kinds[t] == "person" or c >= 2]
    if not good:
        return name
    return max(good, key=lambda t: (counts[t], len(t)))


def _head(focus: str) -> str:
    ws = [w for w in words(focus_core(focus)) if w not in ("the", "a", "an")]
    return ws[-1] if ws else ""


def _next_to(text: str, nm: values.Name, head: str) -> bool:
    """The name holds the head word ("Crocus City Hall") or stands within three words of
    it ("the concert hall, Crocus City Hall")."""
    if head in words(nm.text):
        return True
    before = words(text[: nm.start])[-4:]
    after = words(text[nm.end :])[:4]
    return head in before or head in after


def _fits(nm: values.Name, wanted: str) -> bool:
    if wanted == "person":  # a surname alone ("Altman") merges into the full name
        return nm.kind == "person" or (nm.kind == "other" and " " not in nm.text)
    if wanted == "who":  # a person, or a group ("who was blamed?" — "ISIS-K")
        return nm.kind in ("person", "org") or (nm.kind == "other" and " " not in nm.text)
    if wanted == "org":
        return nm.kind in ("org", "other")
    if wanted == "place":
        return nm.kind in ("place", "other")
    return True


_AT = re.compile(r"\b(?:in|at|near|to|from|into|outside|across)\s+(?:the\s+)?$", re.I)


def _given(name: str, q_words: set[str], sources: set[str]) -> bool:
    """The question already names it, or it is an outlet of the shown articles."""
    ws = [w for w in words(name) if len(w) > 1] or words(name.replace(".", ""))
    if not ws:
        return True
    if name.lower() in sources or any(name.lower() in s for s in sources):
        return True
    return all(w in q_words or any(q.startswith(w[:5]) and len(w) >= 5 for q in q_words)
               for w in ws)  # fmt: skip


# --------------------------------------------------------------------------- values


def value(ctx: Context, part: Part, lim: Limits = LIMITS) -> list[Claim] | None:
    """A date or a number, first; different values in different articles both said."""
    ranked = ctx.rank(part)
    if not relevant(ranked, lim) and not names_given(part, ranked):
        return None
    wanted = subject.subject_terms(part)
    focus = [t for t in terms(focus_core(part.focus)) if t not in _COUNTED] if part.focus else []
    given = set(words(part.text))
    found: list[tuple[Sentence, str]] = []
    best_score = ranked[0].score
    top = ranked[:15]
    covers = {id(s): on_subject(ctx, part, s, wanted) if wanted else 1.0 for s in top}
    need = max(0.25, 0.6 * max(covers.values()))
    for s in top:
        if s.score < 0.6 * best_score:
            break
        if covers[id(s)] < need:
            continue
        if focus and not _counts(s, focus):
            continue  # "145 people" dead do not answer how many were injured
        v = _value_in(s, part.kind, given, focus)
        if v:
            found.append((s, v))
    if not found:
        return None
    # a date: the sentence whose own words (not paraphrases: "Taliban-ruled" is no "came to
    # power") hold most of the subject, then by score; another article's date is a
    # different one for the same thing only when its sentence has those words too
    if part.kind == "date":
        found.sort(key=lambda f: -round(_literal_cover(ctx, f[0], wanted), 2))
    s, v = found[0]
    claims = [claim_for(s, lead=f"{_cap(v)}: ")]
    named = {t for n in part.names for t in terms(n)}
    own = {t for t in wanted if t in s.terms and t not in named}
    for other, v2 in found[1:]:
        same = part.kind != "date" or own <= other.terms
        if other.doc_id != s.doc_id and same and differs(v, v2):
            claims = figures(s, v, other, v2, True)
            break
    return claims


_COUNTED = frozenset(terms("people person persons times number"))


def _literal_cover(ctx: Context, s: Sentence, wanted: Sequence[str]) -> float:
    if not wanted:
        return 1.0
    w = ctx.term_weights(wanted)
    return sum(w.get(t, 1.0) for t in wanted if t in s.terms) / sum(w.get(t, 1.0) for t in wanted)


def _counts(s: Sentence, focus: Sequence[str]) -> bool:
    """Whether `s` counts what the question counts: the focus's head word in the sentence,
    and half of its other words there or in the sentence it refers back to ("The move
    affects about 4,000 commuters a day" counts commuters who use the ferry terminal)."""
    head, rest = focus[0], focus[1:]
    if not subject.has(s.keys, head):
        return False
    return 2 * sum(subject.has(s.all_keys, t) for t in rest) >= len(rest)


def figures(s1: Sentence, v1: str, s2: Sentence, v2: str, differ: bool) -> list[Claim]:
    """Two articles' figures, each with the sentence that gives it, cited where it is said:
    "The articles give different figures: 145 people — … [1]. Over 140 dead — … [2]."."""
    lead = "The articles give different figures" if differ else "Both articles give the figure"
    return [
        claim_for(s1, lead=f"{lead}: {_with_source(v1, s1)} — "),
        claim_for(s2, lead=f"{_cap(_with_source(v2, s2))} — "),
    ]


def _with_source(v: str, s: Sentence) -> str:
    a = short_attribution(s)
    return f"{v} ({a})" if a else v


def short_attribution(s: Sentence) -> str:
    """ "TechCrunch, 7 Oct 2023" — the source and date only, '' when the article has none."""
    return ", ".join(x for x in (s.source, human_date(s.date)) if x)


def _value_in(s: Sentence, kind: str, given: set[str], focus: Sequence[str]) -> str | None:
    if kind == "date":
        for text, _, _ in values.dates(s.text):
            if not set(words(text)) <= given and text.lower() not in _RELATIVE:
                return text
        return None
    best = None
    for n in values.numbers(s.text):
        if set(words(n.text)) <= given:
            continue
        if focus and n.unit and any(subject.has(keys(terms(n.unit)), t) for t in focus):
            return n.text
        best = best or n.text
    return best


_RELATIVE = frozenset(
    ("today", "yesterday", "tomorrow", "now", "tonight", "this year", "last year")
)


def differs(a: str, b: str) -> bool:
    na, nb = values.numbers(a), values.numbers(b)
    if na and nb:
        x, y = na[0], nb[0]
        return x.value != y.value or x.qualifier != y.qualifier
    return " ".join(words(a)) != " ".join(words(b))


def _cap(v: str) -> str:
    return v[0].upper() + v[1:] if v and v[0].islower() else v
