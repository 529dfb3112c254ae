"""What a sentence claims, in words: numbers, names, negation; and answer drafts cut
into sentences and claims at their citation markers. Used by `rag.check`.

A claim is the text before a citation marker group ("145 people died [1]; the other
article says over 140 [2]." holds two). A short framing word ("Yes.", "No.") or a
heading-like lead ending in ":" is no claim. What it does not do: decide support.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rag import cite
from rag.text import STOPWORDS, terms, words

Span = tuple[int, int]


_NUM = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_NUM_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
    if i >= 2
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
_SCALE = {
    "hundred": 100,
    "hundreds": 100,
    "thousand": 1e3,
    "thousands": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "trillion": 1e12,
    "decade": 10,
    "decades": 10,
    "dozen": 12,
    "dozens": 12,
    "percent": 1,
    "per": 1,
}
MONTHS = (
    "january february march april may june july august september october november december"
).split()
_TITLES = frozenset(
    "mr mrs ms dr sir president prime minister general secretary chief senator sen rep "
    "representative governor gov judge justice king queen prince ceo chairman director "
    "spokesman spokeswoman spokesperson deputy foreign the a an".split()
)
# words about the answer itself, not claims it makes ("according to the article")
ATTRIBUTION = frozenset(
    terms(
        "article articles passage passages report reports reported reporting according say says "
        "said state states stated mention mentions mentioned note notes noted source sources "
        "indexed text describe describes described write writes wrote"
    )
)
_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|cannot)\b|n[’']t\b", re.I)
# "not only", "not just": no negation of what follows
_NOT_NEGATION = re.compile(
    r"\b(not (only|just|merely|simply)|no (shortage|doubt|stranger)|nothing but|"
    r"(is|are|was|were)n[’']t (only|just))\b",
    re.I,
)
FRAMING_END = re.compile(r":\s*$")
TRAILING = re.compile(r"[\s.!?;:,]*$")
ONLY_PUNCT = re.compile(r"[\s.!?;:,\"”’)\]]*")
# text written at a machine reader; until the index flags such sentences, never support
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)\b|"
    r"\bsystem prompt\b|\byou are now\b|\b(ai|language model|assistant|chatbot)s?,? "
    r"(must|should|will) (answer|reply|respond|say|state)\b",
    re.I,
)


def numbers(text: str) -> set[float]:
    """Numbers a text states, also as words and with their scale ("two decades" → 2, 20)."""
    out: set[float] = set()
    toks = re.findall(r"\d[\d,]*(?:\.\d+)?|[A-Za-z]+", text)
    for i, tok in enumerate(toks):
        value: float | None = None
        if tok[0].isdigit():
            try:
                value = float(tok.replace(",", ""))
            except ValueError:
                continue
        else:
            value = _NUM_WORDS.get(tok.lower())
        if value is None:
            continue
        out.add(value)
        nxt = toks[i + 1].lower() if i + 1 < len(toks) else ""
        if nxt in _SCALE:
            out.add(value * _SCALE[nxt])
    return out


def names(
    text: str,
    known_caps: set[str] = frozenset(),  # type: ignore[assignment]
    seen: set[str] | None = None,
) -> list[str]:
    """Lowercase words of the names in `text`: capitalised words, titles and stop words
    aside. A capitalised first word counts only when it is an acronym, when the passages
    write it capitalised mid-sentence (`known_caps`), or when they never use it (`seen`:
    their words): "Iran became the first nation ..." names Iran."""
    toks = text.split()
    out: list[str] = []
    for i, raw in enumerate(toks):
        core = raw.strip("“”\"'‘’()[],.;:!?—–")
        if not core or not core[0].isupper():
            continue
        ws = words(core)
        if not ws or (ws[0] in STOPWORDS and ws[0] not in _MONTH_WORDS) or ws[0] in _TITLES:
            continue
        if i == 0 or toks[i - 1][-1:] in ".!?:":  # a sentence may start with any word
            acronym = core.isupper() and len(core) >= 2
            unseen = (
                seen is not None
                and ws[0] not in seen
                and not raw.endswith(",")  # "Additionally, ..."
                and not ws[0].endswith("ly")
                and ws[0] not in _OPENERS
                and not set(terms(ws[0])) & ATTRIBUTION
            )
            if not (acronym or ws[0] in known_caps or unseen):
                continue
        if core.isupper() and 2 <= len(core) <= 5 and core.isalpha():
            out.append(core.lower())  # "UN", "US": an acronym is a name, stop word or not
            continue
        ws = name_words(core)
        out.extend(
            w
            for w in ws
            if (w not in STOPWORDS or w in _MONTH_WORDS) and w not in _TITLES and not w.isdigit()
        )
    return out


# words that open a sentence without naming anything
_OPENERS = frozenset(
    "according additionally also both despite given instead meanwhile people overall "
    "today yesterday recently since while although though yet still thus hence then "
    "many most some several few experts officials analysts critics reports".split()
)
_MONTH_WORDS = frozenset({"may"})  # "in May": the month, a name, though "may" is a stop word


def name_in(w: str, pool: set[str]) -> bool:
    if w in pool:
        return True
    if len(w) < 4:
        return False
    # "Russian" / "Russia", "Afghan" / "Afghanistan": one is the other's stem
    return any(len(p) >= 4 and (p.startswith(w) or w.startswith(p)) for p in pool)


# words news answers use for the article's words ("died" for "deaths"): one term each
_SYNONYMS = [
    "die died dies death deaths dead kill killed kills killing fatal fatalities",
    "ask asked asks request requested requests call called calls urge urged",
    "lift lifted lifts end ended ends remove removed removes scrap scrapped",
    "begin began begun begins start started starts launch launched",
    "rise rose risen rises increase increased grow grew grown",
    "fall fell fallen falls decline declined decrease decreased drop dropped",
    "win won wins beat beats defeat defeated",
    "buy bought buys purchase purchased acquire acquired",
    "blame blamed attribute attributed",
    "country countries nation nations",
]
_CANON = {t: group.split()[0] for group in _SYNONYMS for w in group.split() for t in terms(w)}


def claim_terms(text: str) -> set[str]:
    """Content terms, synonyms folded ("died" and "deaths" are one term)."""
    return {_CANON.get(t, t) for t in terms(text)}


def negated(text: str) -> bool:
    return _NEGATION.search(_NOT_NEGATION.sub(" ", text)) is not None


_MONTH_ABBR = {m[:3]: m for m in MONTHS} | {"sept": "september"}


def name_words(text: str) -> list[str]:
    """Words for name matching: month abbreviations spelt out ("Oct." → october)."""
    return [_MONTH_ABBR.get(w, w) for w in words(text)]


def acronyms(text: str) -> set[str]:
    """Initials of runs of capitalised words ("United Nations" → un)."""
    out: set[str] = set()
    for m in re.finditer(r"(?:\b[A-Z][a-z]+(?:\s+(?:of|for|and|the)\s+|\s+))+[A-Z][a-z]+", text):
        caps = [w for w in m.group(0).split() if w[:1].isupper()]
        for i in range(len(caps)):
            for j in range(i + 2, len(caps) + 1):
                out.add("".join(w[0] for w in caps[i:j]).lower())
    return out


def norm(text: str) -> str:
    return " ".join(words(text))


# --------------------------------------------------------------------------- drafts

_SENTENCE_END = re.compile(r"[.!?][\"”’)]*(?:\s*\[[\d\s,;\-–]+\])*(?=\s+[A-Z0-9\"“‘(\-*•])")
FRAMING = re.compile(
    r"^\W*(yes|no|partly|partially|in short|in brief|in summary|to summarize|summary|"
    r"overall|both|neither|not quite|not exactly|correct|right)\W*$",
    re.I,
)


@dataclass(slots=True)
class Segment:
    body: str
    tail: str
    cited: list[int]
    final: list[int] = field(default_factory=list)
    claim: bool = True
    support: Any = None  # rag.check.Support, once checked


_ABBREVIATIONS = frozenset(
    "jan feb mar apr jun jul aug sep sept oct nov dec mr mrs ms dr st no vs jr sr inc ltd co "
    "corp gen gov sen rep prof lt col sgt capt u.s u.k e.g i.e etc approx est".split()
)


def _abbreviation(word: str) -> bool:
    return (len(word) == 1 and word.isupper()) or word.lower() in _ABBREVIATIONS


def sentence_spans(text: str) -> list[Span]:
    """(start, end) of each sentence of an answer: lines, then sentence ends (a marker
    after the full stop stays with its sentence)."""
    out: list[Span] = []
    pos = 0
    for line in text.split("\n"):
        start = pos
        for m in _SENTENCE_END.finditer(line):
            before = re.search(r"(\w+)\.$", line[: m.start() + 1])
            nxt = line[m.end() : m.end() + 1]
            if before and before.group(1).lower() == "no" and not nxt.isdigit():
                pass  # "No. The articles differ" ends a sentence; "No. 5" does not
            elif m.group(0)[0] == "." and before and _abbreviation(before.group(1)):
                continue  # "Oct. 12", "Mr. Smith", "J. K. Rowling"
            out.append((start, pos + m.end()))
            start = pos + m.end()
        out.append((start, pos + len(line)))
        pos += len(line) + 1
    trimmed = []
    for s, e in out:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


def segments(sentence: str, valid: set[int], dropped: list[int]) -> list[Segment]:
    segs: list[Segment] = []
    pos = 0
    for m in cite.MARKER.finditer(sentence):
        nums = []
        for n in cite._expand(m.group(1)):
            if n in valid:
                nums.append(n)
            else:
                dropped.append(n)
        body = sentence[pos : m.start()]
        if not body.strip() and segs:  # "[1] [2]" or "[1]. [2]"
            segs[-1].cited += nums
            segs[-1].tail += body
        else:
            segs.append(Segment(body, "", nums))
        pos = m.end()
    rest = sentence[pos:]
    if segs and ONLY_PUNCT.fullmatch(rest):
        segs[-1].tail += rest
    elif segs:  # "The court [1] asked for it.": words after the last marker are its claim's
        last = segs[-1]
        last.body, last.tail = last.body + last.tail + rest, ""
    else:
        cut = TRAILING.search(rest)
        at = cut.start() if cut else len(rest)
        segs.append(Segment(rest[:at], rest[at:], []))
    for s in segs:  # "Russia lifted the ban." [1] → body without its full stop
        cut = TRAILING.search(s.body)
        if cut and cut.start() < len(s.body):
            s.tail = s.body[cut.start() :].strip() + s.tail
            s.body = s.body[: cut.start()]
        s.cited = list(dict.fromkeys(s.cited))
    return segs


def is_claim(body: str, min_terms: int, known_caps: Callable[[], set[str]]) -> bool:
    """Does `body` state something to check? (`known_caps` is asked only when needed.)"""
    text = body.strip()
    if not text or FRAMING.match(text) or FRAMING_END.search(text):
        return False
    if numbers(text) or len(set(terms(text)) - ATTRIBUTION) >= min_terms:
        return True
    return bool(names(text, known_caps()))


def merge_small(
    segs: list[Segment], min_terms: int, known: Callable[[], set[str]]
) -> list[Segment]:
    """A piece too small to be a claim of its own joins the claim before it."""
    out: list[Segment] = []
    for s in segs:
        if out and not is_claim(s.body, min_terms, known) and not FRAMING.match(s.body.strip()):
            prev = out[-1]
            prev.body = prev.body + prev.tail + s.body
            prev.tail = s.tail
            prev.cited = list(dict.fromkeys(prev.cited + s.cited))
        else:
            out.append(s)
    return out
