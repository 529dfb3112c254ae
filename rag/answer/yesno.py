"""Yes/no and either/or questions: decide from the evidence, then show it.

A yes/no answer begins with "Yes" or "No", then shows the evidence for each claim the
question makes, with each article's source and date. The decision:
- "agree" questions about a figure (do they agree on the death toll?) compare the figures
  the articles give: different figures answer "No" (or "Yes" to "do they differ?");
- "order" questions (did A report it after B?) compare the dates of the articles the
  question names, when both are among the shown passages;
- otherwise a logistic model (rag.answer.yesno_model) weighs the question's wording and
  how well the evidence holds each claim.
Either/or questions ("consistent or inconsistent?") answer with the option the same
decision picks; "A or B?" between names picks the one the evidence supports better.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer import compose, subject, values, yesno_model
from rag.answer.context import Context, attribution
from rag.answer.draft import Claim
from rag.answer.evidence import Sentence
from rag.answer.plan import Part, main_clause
from rag.paraphrase import keys
from rag.text import terms, words

_CLAUSE_SPLIT = re.compile(
    r",?\s+(?:while|whereas|but)\s+|,\s+and\s+|\s+and\s+(?=(?:does|did|do|is|are|was|were|has|"
    r"have|had)\b)|,?\s+or\s+(?=(?:does|did|do|is|are|was|were|has|have|had)\b)|;\s*",
    re.I,
)
_ORDER_SPLIT = re.compile(
    r"\s+(?P<rel>before|after|prior to|following|earlier than|later than)\s+", re.I
)
NEG = re.compile(
    r"\b(?:not|no|never|none|nothing|without|neither|nor|fails?|failed|lacks?|denied|denies|"
    r"refused|unable)\b|n't\b",
    re.I,
)
_ASKS_DIFF = re.compile(
    r"\b(?:differ\w*|different|difference|change[ds]?|inconsisten\w*|disagree\w*|contradict\w*|"
    r"discrepanc\w*|diverge\w*)\b",
    re.I,
)
_QUANTITY = re.compile(
    r"\b(?:toll|number|figures?|amount|count|how many|how much|price|cost|percentage|total|"
    r"sum|deaths?|dead|killed|score|rate)\b",
    re.I,
)
_SAME_WORDS = frozenset("consistent same similar agree aligned align remain".split())
_DIFF_WORDS = frozenset("inconsistent different differ disagree change changed contradict".split())


@dataclass(slots=True)
class Verdict:
    yes: bool
    claims: list[Claim]


def answer(ctx: Context, part: Part) -> list[Claim] | None:
    if part.kind == "choice":
        return _choice(ctx, part)
    v = decide(ctx, part)
    if v is None:
        return None
    return _lead("Yes" if v.yes else "No", v.claims)


def _lead(word: str, claims: list[Claim]) -> list[Claim]:
    first = claims[0]
    return [Claim(f"{word}. {first.text}", first.passages, first.quotes), *claims[1:]]


_META = re.compile(
    r"\b(?:do|does|did|is|are|was|were|the|two|both|articles?|reports?|sources?|outlets?|"
    r"agree|agreement|disagree|consistent|inconsistent|same|differ|different|on|about|say|"
    r"says|give|figures?)\b",
    re.I,
)


def about(part: Part) -> str:
    """The question without its asking words: what the claims are about ("Do the two
    articles agree on the death toll?" → "death toll")."""
    text = " ".join(_META.sub(" ", main_clause(part.text).rstrip(" ?")).split())
    return text if len(text.split()) >= 2 else part.text


def decide(ctx: Context, part: Part) -> Verdict | None:
    if not compose.relevant(ctx.rank(part, about(part))):
        return None
    core = main_clause(part.text)
    asks_diff = bool(_ASKS_DIFF.search(core))
    figures = (
        _compare_values(ctx, part) if part.flavour == "agree" and _QUANTITY.search(core) else None
    )
    order = _order(ctx, part) if part.flavour == "order" else None
    found = _claims(ctx, part)
    if figures is not None:
        differ, claims = figures
        return Verdict(differ == asks_diff, claims)
    if order is not None:
        return order
    if found is None:
        return None
    ev, claims = found
    p = yesno_model.p_yes(ctx, part, ev)
    # without a model: every claim holds, with no negation on one side only
    rule = min(ev.cover or [0]) >= 0.34 and ev.negation_mismatch == 0
    yes = rule if p is None else p >= 0.5
    return Verdict(yes, claims)


# --------------------------------------------------------------------------- claims


def clauses(text: str) -> list[str]:
    core = main_clause(text)
    parts = [p.strip(" ,?") for p in _CLAUSE_SPLIT.split(core) if p and p.strip(" ,?")]
    return [p for p in parts if len(p.split()) >= 3] or [core.strip(" ?")]


def _claims(ctx: Context, part: Part) -> tuple[yesno_model.Evidence, list[Claim]] | None:
    """Each clause's best sentence (from the article of the outlet it names, when shown)."""
    dense: list[float] = []
    cover: list[float] = []
    mismatch = 0
    claims: list[Claim] = []
    used: set[tuple[str, int]] = set()
    for clause in clauses(part.text):
        best = _best_for(ctx, clause, used)
        if best is None:
            dense.append(0.0)
            cover.append(0.0)
            continue
        s, cov = best
        used.add((s.doc_id, s.start))
        dense.append(s.dense)
        cover.append(cov)
        mismatch += int(bool(NEG.search(clause)) != bool(NEG.search(s.text)))
        claims.append(compose.claim_for(s, attribute=True))
    if not claims:
        return None
    return yesno_model.Evidence(dense, cover, mismatch), claims


def _sub(text: str) -> Part:
    return Part(text=text, kind="claim", terms=list(dict.fromkeys(terms(text))))


def _best_for(ctx: Context, text: str, used: set[tuple[str, int]]) -> tuple[Sentence, float] | None:
    """The sentence that best holds a claim, preferring the outlet the claim names."""
    sub = _sub(text)
    wanted = subject.subject_terms(sub)
    named = _named_sources(ctx, text)
    best, best_v = None, -1.0
    for s in ctx.rank(sub)[:15]:
        if (s.doc_id, s.start) in used:
            continue
        cover = compose.on_subject(ctx, sub, s, wanted) if wanted else 0.5
        v = s.score + 0.3 * cover + (0.3 if named and (s.source or "") in named else 0.0)
        if v > best_v:
            best, best_v = (s, cover), v
    return best


def _named_sources(ctx: Context, text: str) -> set[str]:
    low = text.lower()
    out = set()
    for h in ctx.hits:
        src = h.doc.source or ""
        short = re.split(r" \| | - |: ", src)[0].strip().lower()
        short = short.removeprefix("the ")
        if short and len(short) >= 3 and short in low:
            out.add(src)
    return out


# --------------------------------------------------------------------------- figures


def pick_number(text: str, wanted: Sequence[str]) -> str | None:
    """The number a sentence gives for the subject: one whose unit words are about it
    ("over 140 dead" for a death toll), else one with a unit; never "one of ..."."""
    nums = [n for n in values.numbers(text) if n.value is not None and not n.percent]
    nums = [n for n in nums if not re.match(r"\s*of\b", text[n.end :]) or n.unit]
    about = [n for n in nums if n.unit and any(subject.has(keys(terms(n.unit)), t)
                                               for t in wanted)]  # fmt: skip
    pick = about or [n for n in nums if n.unit] or nums
    return pick[0].text if pick else None


def _compare_values(ctx: Context, part: Part) -> tuple[bool, list[Claim]] | None:
    """Do the articles give different figures for the thing asked about?"""
    ranked = ctx.rank(part, about(part))
    wanted = subject.subject_terms(part)
    per_doc: dict[str, tuple[Sentence, str]] = {}
    for s in ranked[:15]:
        if s.doc_id in per_doc or s.score < 0.3:
            continue
        if wanted and compose.on_subject(ctx, part, s, wanted) < 0.3:
            continue
        n = pick_number(s.text, wanted)
        if n is not None:
            per_doc[s.doc_id] = (s, n)
    if len(per_doc) < 2:
        return None
    (s1, v1), (s2, v2) = list(per_doc.values())[:2]
    differ = compose.differs(v1, v2)
    return differ, compose.figures(s1, v1, s2, v2, differ)


# --------------------------------------------------------------------------- time


def _order(ctx: Context, part: Part) -> Verdict | None:
    """ "Did A report X after B reported Y?": compare the dates of the two articles, when
    each side names an outlet whose article is among the shown passages."""
    core = main_clause(part.text)
    m = _ORDER_SPLIT.search(core)
    if not m:
        return None
    sides = (core[: m.start()], core[m.end() :])
    rel = m.group("rel").lower()
    found: list[Sentence] = []
    used: set[tuple[str, int]] = set()
    for text in sides:
        named = _named_sources(ctx, text)
        if not named:
            return None
        best = _best_for(ctx, text, used)
        if best is None or not best[0].date or (best[0].source or "") not in named:
            return None
        used.add((best[0].doc_id, best[0].start))
        found.append(best[0])
    a, b = found
    if a.doc_id == b.doc_id or a.date == b.date:
        return None
    later = (a.date or "") > (b.date or "")
    yes = later if rel in ("after", "following", "later than") else not later
    when = "after" if later else "before"
    claims = [
        Claim(
            f"{attribution(a)} came {when} {attribution(b)}: {_short(a)}",
            [a.passage],
            [(a.passage, a.start, a.end)],
        ),
        Claim(f"{attribution(b)}: {_short(b)}", [b.passage], [(b.passage, b.start, b.end)]),
    ]
    return Verdict(yes, claims)


def _short(s: Sentence) -> str:
    t = compose.tidy(s.text)
    return t[0].lower() + t[1:] if compose.lowerable(t) else t


# --------------------------------------------------------------------------- either / or


def _choice(ctx: Context, part: Part) -> list[Claim] | None:
    a, b = part.options[0], part.options[1]
    la, lb = set(a.lower().split()), set(b.lower().split())
    if (la | lb) & (_SAME_WORDS | _DIFF_WORDS):
        same_opt = a if la & _SAME_WORDS else b if lb & _SAME_WORDS else None
        diff_opt = b if same_opt == a else a
        if same_opt is None:
            same_opt, diff_opt = (b, a) if la & _DIFF_WORDS else (a, b)
        q = Part(text=part.text, kind="yesno", flavour="agree", terms=part.terms)
        figures = _compare_values(ctx, q) if _QUANTITY.search(part.text) else None
        found = _claims(ctx, q)
        if figures is not None:
            differ, claims = figures
        elif found is not None:
            differ, claims = False, found[1]  # without figures that differ, they agree
        else:
            return None
        return _lead(_cap(diff_opt if differ else same_opt), claims)
    ranked = ctx.rank(part)
    if not compose.relevant(ranked):
        return None
    best: tuple[float, str, Sentence] | None = None
    for opt in (a, b):
        ws = set(words(opt))
        for s in ranked[:15]:
            if ws and ws <= set(words(s.text)):
                if best is None or s.score > best[0]:
                    best = (s.score, opt, s)
                break
    if best is None:
        return None
    _, opt, s = best
    return [compose.claim_for(s, lead=f"{opt}: ")]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


__all__: Sequence[str] = ["answer", "clauses", "decide"]
