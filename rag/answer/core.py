"""Plan → evidence → one composed answer per part → Draft.

Before composing, each part's subject is checked against the passages: a name the
question gives that no passage holds, or content terms that none holds ("GDP",
"injured"), mean the articles do not answer that part, and the answer says so for it.
Outlets the question names that none of the shown articles comes from, and none of the
passages mentions, mean the same for the whole question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer import compose, points, subject, yesno
from rag.answer.context import Context, IndexFacts
from rag.answer.draft import ABSTAIN_PREFIX, Claim, Draft, abstention
from rag.answer.evidence import EmbedFn
from rag.answer.plan import Part, Plan, plan
from rag.text import terms
from rag.types import Hit

_COMPOSERS = {
    "entity": compose.entity,
    "date": compose.value,
    "number": compose.value,
    "yesno": yesno.answer,
    "choice": yesno.answer,
}


def answer(
    question: str,
    hits: Sequence[Hit],
    embed: EmbedFn,
    facts: IndexFacts | None = None,
) -> Draft:
    """The offline answer to `question` from the shown passages `hits` (numbered 1..k).

    `facts` tell whether the whole index holds an outlet or a term; without them only
    the shown passages count."""
    p = plan(question)
    ctx = Context.build(p, hits, embed, facts)
    if ctx is None or _outlet_missing(ctx):
        return Draft([], True, p.kind)
    claims: list[Claim] = []
    answered = 0
    for part in p.parts:
        got = None if _subject_missing(ctx, part) else _compose(ctx, part)
        if got:
            answered += 1
            claims.extend(got)
        elif len(p.parts) > 1:
            claims.append(Claim(f"{ABSTAIN_PREFIX} {_what(part)}"))
    if not answered:
        return Draft([], True, p.kind)
    return Draft(_dedupe(claims), False, p.kind)


# kinds whose answer is one claim about one subject: the sentences quoted must come from
# an article that names every name the part gives (never "Chen Wei said" from one article
# joined to "the hospital in Arden" from another)
_ONE_SUBJECT = frozenset({"other", "describe", "why", "list", "summary", "date", "number"})


def _compose(ctx: Context, part: Part) -> list[Claim] | None:
    fn = _COMPOSERS.get(part.kind, points.points)
    names = [n for n in part.names if not _is_source(ctx, n)]
    if part.kind in _ONE_SUBJECT and len(names) >= 2:
        docs = {s.doc_id for s in ctx.sents}
        both = {d for d in docs if all(subject.name_found(n, [ctx.doc_text(d)]) for n in names)}
        if not both:
            return None
        ctx = ctx.only(both)
    return fn(ctx, part)


def _subject_missing(ctx: Context, part: Part) -> bool:
    """The passages lack a name or a year the part gives ("Koramangala", "the 1980s"):
    they are about something else. Outlets and dates of publication are metadata."""
    texts = ctx.texts()
    outlets = {o.lower() for o in ctx.plan.outlets}
    for name in part.names:
        if name.lower() in outlets or _is_source(ctx, name):
            continue
        if not subject.name_found(name, texts) and not _indexed(ctx, name):
            return True
    joined = " ".join(texts).lower()
    if any(y.lower() not in joined for y in _years(part.text)):
        return True
    return _verb_missing(ctx, part)


_LIGHT = frozenset(terms("say said do does did have has be is are was were make get go take"))


def _verb_missing(ctx: Context, part: Part) -> bool:
    """A short question whose verb ("react", "located") no passage holds, or says in other
    words: the passages tell something else about the subject."""
    if part.kind != "other" or not part.predicate or len(part.text.split()) > 12:
        return False
    ts = [t for t in terms(part.predicate) if t not in _LIGHT]
    if not ts:
        return False
    have: set[str] = set()
    for s in ctx.sents:
        have |= s.all_keys
    return not any(subject.has(have, t) for t in ts)


_DATED_YEAR = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?"
    r"\s+((?:19|20)\d\d)\b|\b((?:19|20)\d\d)-\d\d-\d\d\b",
    re.I,
)


def _years(text: str) -> list[str]:
    """Years and decades a question gives, except in full dates (a publication date)."""
    dated = {m.start(1) if m.group(1) else m.start(2) for m in _DATED_YEAR.finditer(text)}
    return [
        m.group(0) for m in re.finditer(r"\b(?:19|20)\d\d(?:s)?\b", text) if m.start() not in dated
    ]


def _indexed(ctx: Context, name: str) -> bool:
    """Every word of the name is a term of some indexed passage (a name mentioned in
    articles that did not make the top k)."""
    if ctx.facts.term is None:
        return False
    ts = terms(name)
    return bool(ts) and all(ctx.facts.term(t) for t in ts)


def _is_source(ctx: Context, name: str) -> bool:
    low = name.lower()
    return any(low in (h.doc.source or "").lower() for h in ctx.hits)


def _outlet_missing(ctx: Context) -> bool:
    """The question names an outlet the index holds nothing from (or, without an index
    to ask, that none of the shown articles comes from) and no passage mentions (e.g.
    "a Bloomberg report" over an index without Bloomberg)."""
    if not ctx.plan.outlets:
        return False
    known = ctx.facts.source
    text = " ".join(ctx.texts()).lower()
    for o in ctx.plan.outlets:
        if _is_source(ctx, o) or (known is not None and known(o)) or o.lower() in text:
            continue
        return True
    return False


def _what(part: Part) -> str:
    q = part.text.rstrip(" ?")
    return f"“{q}”."


def _dedupe(claims: list[Claim]) -> list[Claim]:
    seen: set[str] = set()
    out = []
    for c in claims:
        if c.text in seen:
            continue
        seen.add(c.text)
        out.append(c)
    return out


__all__ = ["ABSTAIN_PREFIX", "Draft", "Plan", "abstention", "answer", "plan"]
