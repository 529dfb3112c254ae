"""What a sentence states: names (typed as person, organisation or other), dates and
numbers, each with its place in the sentence. Rule-based and small; no model.

    "The request, initiated by Prosecutor General Igor Krasnov, signals ..."
        → Name("Prosecutor General Igor Krasnov", person)
    "... which resulted in the deaths of 145 people at a concert hall ..."
        → Number("145 people", value 145)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer.places import PLACES
from rag.text import words

_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_MONTH_RE = (
    r"(?:" + "|".join(m.capitalize() for m in _MONTHS) + r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|"
    r"Aug|Sept?|Oct|Nov|Dec)\.?)"
)
DATE = re.compile(
    rf"\b(?:(?:early|mid|late)[- ])?{_MONTH_RE}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?,?"
    r"\s+(?:19|20)\d\d\b"
    rf"|\b\d{{1,2}}\s+{_MONTH_RE},?\s+(?:19|20)\d\d\b"
    rf"|\b{_MONTH_RE}\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    r"|\b(?:19|20)\d\d-\d\d-\d\d\b"
    r"|\b(?:in|since|by|from|until|of|during|before|after)\s+(?:the\s+)?(?:(?:early|mid|late)"
    r"[- ])?(?:19|20)\d\d(?:s)?\b"
    r"|\b(?:19|20)\d\d\b"
    r"|\b(?:last|this|next)\s+(?:year|month|week|spring|summer|autumn|fall|winter)\b"
    r"|\b(?:yesterday|today|(?:on\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday))\b",
    re.I,
)
_SPELLED = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "dozen": 12, "dozens": 24,
    "hundreds": 200, "thousands": 2000, "millions": 2e6, "billions": 2e9,
}  # fmt: skip
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "k": 1e3,
          "m": 1e6, "bn": 1e9}  # fmt: skip
_QUALIFIER = (
    r"(?:(?:well |just |slightly )?(?:over|more than|less than|fewer than|under|about|around|"
    r"nearly|almost|at least|at most|up to|some|roughly|approximately|an estimated|close to)\s+)"
)
NUMBER = re.compile(
    rf"(?P<q>{_QUALIFIER})?(?P<cur>[$€£¥]\s?)?(?P<n>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?"
    r"|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|a hundred|hundreds|thousands|millions|billions|dozens|a dozen)\b)"
    r"(?P<scale>\s?(?:thousand|million|billion|trillion|bn|k)\b)?"
    r"(?P<pct>\s?(?:%|per ?cent|percent))?"
    r"(?P<unit>(?:\s+(?:of\s+)?[a-z][a-z\-]+){0,2})",
    re.I,
)
_UNIT_STOP = frozenset(
    "and or but the a an in on at of to for with by from as that which who is are was were "
    "has have had it its this".split()
)
_NAME_TOKEN = re.compile(r"[A-Z][\w’'&.\-]*|[A-Z]{2,}[\w\-]*")
_NOT_NAME = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday i the a an in on at for of and
    or but if as by to from with this that these those it its he she they we you his her
    their our my your yet still however meanwhile moreover also so thus then when while
    after before since although though because there here what who which where why how
    according under over during last next first one two three""".split()
)
_PERSON_TITLES = frozenset(
    """mr mrs ms dr prof president prime minister ceo chief general prosecutor senator judge
    king queen prince princess sir lord lady pope governor mayor chairman chairwoman
    secretary ambassador director coach captain officer sheriff justice rep sen gov""".split()
)
_ORG_WORDS = frozenset(
    """inc corp corporation co company companies group bank court institute institution
    university college agency association council committee department ministry commission
    foundation news times post journal party union federation league club fc labs lab
    technologies technology systems ai research capital partners holdings ventures fund
    network networks media studios studio games entertainment records airlines motors
    services solutions exchange reserve office organization organisation nations state
    states service army forces police force authority government administration""".split()
)
_PERSON_VERB = re.compile(
    r"^\s*(?:,\s*(?:who|a|an|the)\b|said|says|told|added|noted|notes|argued|warned|warns|"
    r"explained|wrote|claimed|claims|admitted|testified|stated|announced|tweeted|"
    r"posted|insisted|highlights|highlighted)",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Name:
    text: str  # as written, titles included ("Prosecutor General Igor Krasnov")
    kind: str  # person | org | place | other
    start: int
    end: int

    @property
    def key(self) -> str:
        """The name without titles, lowercased: what two mentions share."""
        ws = [w for w in self.text.split() if w.lower().rstrip(".") not in _PERSON_TITLES]
        return " ".join(ws or self.text.split()).lower()


@dataclass(frozen=True, slots=True)
class Number:
    text: str  # "over 140 dead", "$26.3 billion", "145 people"
    value: float | None  # 145.0; None when not numeric ("hundreds")
    qualifier: str  # "over", "about", "" ...
    unit: str  # the words after the number ("people", "dead")
    percent: bool
    start: int
    end: int


def names(text: str, known: frozenset[str] = frozenset()) -> list[Name]:
    """Runs of capitalised words, typed; a single capitalised word opening the sentence
    is not a name unless it is all capitals or mixed case ("FTX", "OpenAI") or `known`
    (lowercased names seen elsewhere: "Amazon, one of the pioneers ...")."""
    out: list[Name] = []
    tokens = [(m.group(0), m.start()) for m in re.finditer(r"\S+", text)]
    run: list[tuple[str, int, int]] = []

    def flush() -> None:
        if not run:
            return
        s, e = run[0][1], run[-1][2]
        first_word = s == tokens[0][1] if tokens else False
        toks = [t for t, _, _ in run]
        if first_word and len(toks) == 1 and not _marked(toks[0]) and toks[0].lower() not in known:
            run.clear()
            return
        while toks and toks[0].lower() in _NOT_NAME:
            toks.pop(0)
        if toks:
            name_text = text[s:e] if len(toks) == len(run) else " ".join(toks)
            out.append(Name(name_text, _kind(toks, text, e), s, e))
        run.clear()

    for raw, pos in tokens:
        lead = len(raw) - len(raw.lstrip("“\"'‘(["))
        core = raw.strip("“”\"'‘’()[],.;:!?—–")
        core = re.sub(r"(?:’s|'s)$", "", core)
        ok = bool(_NAME_TOKEN.fullmatch(core)) and core.lower() not in _NOT_NAME
        if ok and "-" in core and not all(p[:1].isupper() for p in core.split("-") if p):
            ok = False  # "Taliban-ruled" describes, it does not name
        if ok:
            run.append((core, pos + lead, pos + lead + len(core)))
        if run and (not ok or raw[-1:] in ',.;:!?)”"—' or raw.endswith(("’s", "'s"))):
            flush()
    flush()
    return out


def _marked(token: str) -> bool:
    """FTX, OpenAI, iPhone: capitals beyond the first letter (not after a hyphen or an
    apostrophe: "Bankman-Fried", "O'Brien")."""
    return any(c.isupper() and token[i] not in "-'’" for i, c in enumerate(token[1:]))


def _kind(toks: list[str], text: str, end: int) -> str:
    low = [t.lower().rstrip(".") for t in toks]
    if any(w in PLACES for w in low) and not any(w in _ORG_WORDS for w in low):
        return "place"
    if any(w in _ORG_WORDS for w in low) or any(t.isupper() and len(t) >= 2 for t in toks):
        return "org"
    if low[0] in _PERSON_TITLES and len(toks) >= 2:
        return "person"
    if 2 <= len(toks) <= 4 and all(t[:1].isupper() and t[1:2].islower() for t in toks):
        return "person" if _PERSON_VERB.match(text[end:]) or len(toks) <= 3 else "other"
    if len(toks) == 1:
        return "org" if _marked(toks[0]) else "other"
    return "other"


def dates(text: str) -> list[tuple[str, int, int]]:
    out = []
    for m in DATE.finditer(text):
        t = re.sub(r"^(?:in|since|by|from|until|of|during|before|after)\s+(?:the\s+)?", "",
                   m.group(0), flags=re.I)  # fmt: skip
        out.append((t, m.start() + (len(m.group(0)) - len(t)), m.end()))
    return out


def numbers(text: str) -> list[Number]:
    """Numbers with their qualifier and unit words; years and dates are not numbers."""
    out: list[Number] = []
    date_spans = [(s, e) for _, s, e in dates(text)]
    for m in NUMBER.finditer(text):
        s = m.start("n")
        if any(ds <= s < de for ds, de in date_spans):
            continue
        raw = m.group("n")
        value = _value(raw, m.group("scale"))
        unit_words = [w for w in (m.group("unit") or "").split() if w]
        unit: list[str] = []
        for w in unit_words:
            if w.lower() in _UNIT_STOP:
                break
            unit.append(w)
        end = m.end("n")
        for grp in ("scale", "pct"):
            if m.group(grp):
                end = m.end(grp)
        if unit:
            end = text.find(unit[-1], end) + len(unit[-1])
        start = m.start("q") if m.group("q") else (m.start("cur") if m.group("cur") else s)
        out.append(
            Number(
                text=text[start:end].strip(),
                value=value,
                qualifier=(m.group("q") or "").strip().lower(),
                unit=" ".join(unit).lower(),
                percent=bool(m.group("pct")),
                start=start,
                end=end,
            )
        )
    return out


def _value(raw: str, scale: str | None) -> float | None:
    r = raw.lower().replace(",", "")
    if r.startswith("a "):
        r = r[2:]
    try:
        v = float(r)
    except ValueError:
        v = _SPELLED.get(r)
        if v is None:
            return None
    if scale:
        v *= _SCALE.get(scale.strip().lower(), 1.0)
    return float(v)


def same_name(a: str, b: str) -> bool:
    """ "Bankman-Fried" and "Sam Bankman-Fried" name the same one; "Krasnov" and
    "Prosecutor General Igor Krasnov" too."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return False
    short, long = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    return all(w in long for w in short) and (len(short) > 1 or len(short[0]) >= 4)
