"""Points: the distinct sentences that answer a why / list / summary / describe / other
part, within a word budget, near-duplicates dropped. A why-part leads with a sentence that
gives a reason outright ("driven by", "because"; for a refusal, a condition: "blocked
until"), or with what the people the question names say."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer import subject
from rag.answer.compose import (
    LIMITS,
    Limits,
    claim_for,
    common_keys,
    names_given,
    on_subject,
    relevant,
)
from rag.answer.context import Context
from rag.answer.draft import Claim
from rag.answer.evidence import LEAD, REFERS_BACK, Sentence
from rag.answer.plan import Part
from rag.text import terms

_CAUSE = re.compile(  # a cause or a purpose, said outright
    r"\b(?:because|due to|driven by|is driven|are driven|reasons?|rationale|so that|in order "
    r"to|seeks?|aims? to|motivated by|prompted by|compels?|as a result of|stems from|owing "
    r"to|thanks to|in response to|is less about|more about|betting that|by normali[sz]ing|"
    r"eager for|in a bid|hoping to|to gain|to win|to secure|to escape|in exchange for)\b",
    re.I,
)
_MOTIVE = re.compile(  # words that often carry a motive
    r"\b(?:concerns?|fears?|anxiet(?:y|ies)|threats?|interests?|benefits?|strateg\w*|"
    r"ambitions?|needs?|wants?|pragmatic|desperate|underscores|hammered home|survival)\b",
    re.I,
)


_REFUSAL = re.compile(  # a question about a refusal: its reason may be a condition
    r"\b(?:refuse|refuses|refusing|reject|rejects|won'?t|not|never|deny|denies|block|blocks|"
    r"withhold|withholds|oppose|opposes|object|objects|decline|declines)\b",
    re.I,
)
_CONDITION = re.compile(
    r"\b(?:(?:blocked|withheld|refused|denied|barred) until|unless|conditional on|"
    r"on condition that)\b",
    re.I,
)


def cause_cue(text: str, refusal: bool = False) -> float:
    """How plainly a sentence gives a reason: 1 for "because", "driven by" (and, when the
    question asks why something is refused, a condition: "blocked until"); 0.5 for a
    motive word ("security concerns"); 0 otherwise."""
    if _CAUSE.search(text) or (refusal and _CONDITION.search(text)):
        return 1.0
    return 0.5 if _MOTIVE.search(text) else 0.0


_ENUMERATION = re.compile(r"\w[\w' -]*,\s*\w[\w' -]*,?\s+(?:and|or)\s+\w")


# --------------------------------------------------------------------------- points


def points(ctx: Context, part: Part, lim: Limits = LIMITS) -> list[Claim] | None:
    """Distinct sentences that answer a why / list / summary / describe / other part."""
    ranked = ctx.rank(part, part.focus if part.kind == "describe" and part.focus else None)
    broad = part.kind == "summary" and not subject.subject_terms(part)  # "the latest news"
    if not broad and not relevant(ranked, lim) and not names_given(part, ranked):
        return None
    wanted = subject.subject_terms(part)
    why = part.kind == "why"
    refusal = why and bool(_REFUSAL.search(part.text))
    named = [t for n in part.names for t in terms(n) if not subject.has(common_keys(ctx), t)]

    def value(s: Sentence) -> float:
        v = s.score
        if why:  # a reason: meaning and cause count, restating the event does not; the
            # people and places it names do ("why does Jamila Afghani object ...")
            cover = _names_cover(ctx, s, named) if named else 0.5
            v = 0.55 * s.dense + 0.1 * s.lexical + 0.25 * cause_cue(s.text, refusal) + 0.2 * cover
        if part.kind == "list" and _ENUMERATION.search(s.text):
            v *= 1.2
        if part.kind == "summary":  # news puts what matters first: the lede
            v += 0.15 if s.start < 600 else 0.05 if s.start < 1500 else 0.0
        return v

    pool = sorted(ranked, key=lambda s: -value(s))
    best = pool[0]
    if wanted:  # the first point must be about the subject, as much as any sentence is
        covers = {id(s): on_subject(ctx, part, s, wanted) for s in pool[:30]}
        need = 0.5 * max(covers.values())
        if covers[id(best)] < need:
            best = next(s for s in pool[:30] if covers[id(s)] >= need)
            pool = [best] + [s for s in pool if s is not best]
    budget = lim.words(part.kind)
    n_max = {"why": 5, "summary": 5, "list": 4}.get(part.kind, 2)
    names_in = {id(s): _names_cover(ctx, s, named) for s in pool[:30]}
    if why and named and max(names_in.values()) == 1.0 and names_in[id(best)] < 1.0:
        # "why does Jamila Afghani object": the reason is what the sentence naming her says
        best = next(s for s in pool[:30] if names_in[id(s)] == 1.0)
        pool = [best] + [s for s in pool if s is not best]
    if why:  # a restatement of the event is not a reason: lead with a cause if any
        cov = {id(s): value(s) for s in pool[:30]}
        top_cov = max(cov.values())
        first = next(
            (
                s
                for s in pool[:30]
                if cause_cue(s.text, refusal) == 1.0
                and cov[id(s)] >= 0.8 * top_cov
                and names_in[id(s)] >= names_in[id(best)]
            ),
            None,
        )
        if first is not None and first is not best:
            best = first
            pool = [best] + [s for s in pool if s is not best]
    picked = [best]
    top = value(best)
    ante = _antecedent(ranked, best)
    if ante is not None:  # "Unlike those past examples, ...": the examples come first
        picked = [ante, best]
    used = sum(len(p.text.split()) for p in picked)
    floor = 0.0 if why else lim.min_score  # a reason need not repeat the question's words
    rest = [s for s in pool[1:40] if value(s) >= 0.6 * top and s.score >= floor]
    if why and named and names_in[id(best)] == 1.0:  # "why does Jamila Afghani object":
        rest = [s for s in rest if names_in.get(id(s)) == 1.0]  # what she says, not more
    elif why:
        rest = [s for s in rest if cause_cue(s.text, refusal)]
    rest = [s for s in rest if s is not ante]
    while rest and len(picked) < n_max:
        # the most valuable point that says something new (maximal marginal relevance),
        # from another article when it is as good
        def gain(s: Sentence) -> float:
            same = max(ctx.similarity(s, p) for p in picked)
            other = 0.05 if all(s.doc_id != p.doc_id for p in picked) else 0.0
            return value(s) - 0.3 * max(0.0, same - 0.3) + other

        s = max(rest, key=gain)
        rest.remove(s)
        if any(ctx.similarity(s, p) > lim.redundancy for p in picked):
            continue
        if value(s) < lim.keep * top and (len(picked) >= 2 or part.kind not in _GATHER):
            continue  # a question that gathers points takes a second one more readily
        if used + len(s.text.split()) > budget:
            continue
        picked.append(s)
        used += len(s.text.split())
    dated = ctx.plan.latest or len({s.doc_id for s in picked}) > 1
    return [claim_for(s, attribute=dated and bool(s.date or s.source)) for s in picked]


def _names_cover(ctx: Context, s: Sentence, named: Sequence[str]) -> float:
    return subject.coverage(s.all_keys, named, ctx.term_weights(named)) if named else 0.0


_GATHER = frozenset(("why", "list", "summary"))


def _antecedent(ranked: Sequence[Sentence], s: Sentence) -> Sentence | None:
    """The sentence a point refers back to ("those examples"), when it was retrieved (it
    may end the passage before the one the point opens)."""
    if not REFERS_BACK.match(LEAD.sub("", s.text)):
        return None
    return next(
        (x for x in ranked if x.doc_id == s.doc_id and 0 <= s.start - x.end <= 3),
        None,
    )
