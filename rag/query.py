"""What a news question says about the articles it wants, besides its words.

    "Did the TechCrunch report on Epic published on October 7 agree with The Verge?"

is parsed into source mentions (each with the date attached to it and the clause that
describes that article), dates with their relation ("on", "before", "after"), clock
times, quoted phrases (a title, perhaps), and the question text with names, dates and
question boiler-plate removed.
Retrieval uses them as metadata filters and boosts and to split the question into one
sub-query per article it names.

The parser is rule-based and driven by the index: it knows only the sources stored in
it (and a few well-known short forms: NYT, BBC, CNBC...), and a date without a year
takes the year of the index's newest article. Nothing in it knows any question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

_MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip
_SHORT_MONTH = {m[:3]: i + 1 for i, m in enumerate(_MONTHS)} | {"sept": 9}
_MONTH_RE = "|".join(m.capitalize() for m in _MONTHS)
_DATE_RE = re.compile(
    r"\b(?P<month>" + _MONTH_RE + r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?)"
    r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>(?:19|20)\d\d))?"
    r"|\b(?P<iso>(?:19|20)\d\d-\d\d-\d\d)(?:T\d\d:\d\d(?::\d\d)?(?:[+-]\d\d:\d\d|Z)?)?\b"
)
_RELATION = re.compile(
    r"\b(on|before|after|prior to|since|by|until|following)\s+(?:the\s+)?$", re.I
)
_BEFORE = {"before", "prior to", "by", "until"}
_AFTER = {"after", "since", "following"}
_QUOTED = re.compile(
    r"(?<!\w)'(?P<a>[^'\s][^']*?)'(?!\w)|\"(?P<b>[^\"]+)\"|‘(?P<c>[^’]+)’|“(?P<d>[^”]+)”"
)
_TIME_RE = re.compile(r"(?:\bat\s+|T)(?P<hm>\d{1,2}:\d\d(?::\d\d)?)\b")

# Words about the question or the articles as such, not about their content.
QUESTION_WORDS = frozenset(
    """article articles report reports reported reporting according published publication
    news source sources story stories suggest suggests indicate indicates mention mentioned
    both while whereas does did do was were is are which who what whose the a an between
    subsequent later earlier previous prior after before following consistent consistency
    inconsistent inconsistency change changed portrayal same different differ compared
    comparison align also other another respectively covered discussed highlighted
    detailing""".split()
)

# Well-known short forms of outlet names, used when the long form is in the index.
_ALIASES = {
    "CNBC": "Cnbc",
    "CBS Sports": "CBSSports",
    "NYT": "The New York Times",
    "BBC": "BBC News",
    "Fox News": "FOX News",
}


@dataclass(frozen=True)
class SourceMention:
    sources: frozenset[str]  # stored source names this mention can refer to
    start: int
    end: int
    date: date | None = None  # the date given for this article ("... on October 7")
    clause: str = ""  # the part of the question about this article
    time: str | None = None  # "HH:MM[:SS]" given for this article


@dataclass(frozen=True)
class DateMention:
    day: date
    relation: str  # "on" | "before" | "after"
    start: int
    end: int


@dataclass
class ParsedQuery:
    raw: str
    mentions: list[SourceMention] = field(default_factory=list)
    dates: list[DateMention] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    text: str = ""  # the question without source names, dates and times
    quoted: list[str] = field(default_factory=list)  # quoted phrases (titles, perhaps)

    @property
    def sources(self) -> set[str]:
        return set().union(*(m.sources for m in self.mentions)) if self.mentions else set()

    @property
    def hops(self) -> list[SourceMention]:
        """One mention per distinct (sources, date, time): the articles the question names."""
        seen: dict[tuple[object, ...], SourceMention] = {}
        for m in self.mentions:
            seen.setdefault((m.sources, m.date, m.time), m)
        return list(seen.values())


class QueryParser:
    def __init__(self, sources: Iterable[str], year: int) -> None:
        self.year = year
        names = sorted({s for s in sources if s})
        alias: dict[str, set[str]] = {}
        for s in names:
            alias.setdefault(s, set()).add(s)
            # "Cnbc | World Business News Leader" → "Cnbc"; "The Independent - Sports";
            # "Live Science: The Most Interesting Articles"; "engadget.com"
            for sep in (" | ", " - ", ": "):
                if sep in s:
                    alias.setdefault(s.split(sep)[0].strip(), set()).add(s)
            if s.endswith(".com"):
                alias.setdefault(s[:-4], set()).add(s)
        for a in list(alias):
            if a.startswith("The ") and len(a) > 8:
                alias.setdefault(a[4:], set()).update(alias[a])
        for short, long in _ALIASES.items():
            if long in alias:
                alias.setdefault(short, set()).update(alias[long])
        self.alias = {a: frozenset(v) for a, v in alias.items() if len(a) >= 3}
        by_length = sorted(self.alias, key=len, reverse=True)
        # a name with a non-letter in it ("cbssports.com") matches in any case; every
        # other name only capitalised as a name ("Fortune", not "fortune")
        loose = [a for a in by_length if not a.replace(" ", "").isalpha()]
        strict = [a for a in by_length if a not in loose]
        self._loose = _alternation(loose, re.I)
        self._strict = _alternation(strict, 0)
        self._lookup = {a.lower(): a for a in self.alias}

    def knows(self, name: str) -> bool:
        """Is `name` one of the stored sources, or a short form of one ("Verge",
        "The Independent")?"""
        low = name.lower().strip()
        if not low:
            return False
        if low in self._lookup:
            return True
        return any(low in a.lower() for a in self.alias)

    def parse(self, q: str) -> ParsedQuery:
        dates = self._dates(q)
        found = self._sources(q)
        mentions: list[SourceMention] = []
        for i, (s, e, names) in enumerate(found):
            nxt = found[i + 1][0] if i + 1 < len(found) else len(q)
            # an "on" date between this name and the next one is this article's date
            day = next((d.day for d in dates if d.relation == "on" and e <= d.start < nxt), None)
            t = next((_hhmm(m.group("hm")) for m in _TIME_RE.finditer(q, e, nxt)), None)
            mentions.append(SourceMention(names, s, e, day, q[e:nxt], t))
        times = [_hhmm(m.group("hm")) for m in _TIME_RE.finditer(q)]
        spans = [(s, e) for s, e, _ in found] + [(d.start, d.end) for d in dates]
        spans += [(m.start(), m.end()) for m in _TIME_RE.finditer(q)]
        quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(q)]
        quoted = [x for x in quoted if len(x.split()) >= 2]
        return ParsedQuery(q, mentions, dates, times, _cut(q, spans), quoted)

    def _dates(self, q: str) -> list[DateMention]:
        out = []
        for m in _DATE_RE.finditer(q):
            try:
                if m.group("iso"):
                    day = date.fromisoformat(m.group("iso"))
                else:
                    month = m.group("month").lower().rstrip(".")
                    mi = _MONTHS.index(month) + 1 if month in _MONTHS else _SHORT_MONTH[month]
                    day = date(int(m.group("year") or self.year), mi, int(m.group("day")))
            except (ValueError, KeyError):
                continue
            rel = _RELATION.search(q[max(0, m.start() - 25) : m.start()])
            word = rel.group(1).lower() if rel else "on"
            relation = "before" if word in _BEFORE else "after" if word in _AFTER else "on"
            out.append(DateMention(day, relation, m.start(), m.end()))
        return out

    def _sources(self, q: str) -> list[tuple[int, int, frozenset[str]]]:
        hits = []
        for rx in (self._loose, self._strict):
            for m in rx.finditer(q) if rx else ():
                key = self._lookup.get(m.group(0).lower(), m.group(0))
                if key in self.alias:
                    hits.append((m.start(), m.end(), self.alias[key]))
        hits.sort(key=lambda h: (h[0], h[0] - h[1]))  # earliest, then longest
        out, end = [], -1
        for h in hits:
            if h[0] >= end:
                out.append(h)
                end = h[1]
        return out


def strip_question_words(text: str) -> str:
    tokens = re.findall(r"[\w'’\-$%.]+|[^\w\s]", text)
    return " ".join(t for t in tokens if t.lower() not in QUESTION_WORDS)


# A compound question splits at punctuation and at words that usually start a new part
# ("..., and is also accused of ...", "... while the other article ...").
_SPLIT = re.compile(
    r"\s*[,;:?]\s*|\s+(?=(?:and|while|whereas|but|who|which|whose|that|after|before|"
    r"despite|although|as well as|also|or)\b)",
    re.I,
)
_GLUE = frozenset(
    """and while whereas but who which whose that after before despite although as well
    also or of in on to for by with from has have had been be its their his her it this
    these those there same being regarding concerning about""".split()
)


def segments(text: str, min_words: int = 3, most: int = 6) -> list[str]:
    """The parts of a compound question, each with at least `min_words` content words;
    [] when it does not split. At most `most` (the longest)."""
    out: list[str] = []
    buf = ""
    for part in (p.strip() for p in _SPLIT.split(text) if p and p.strip()):
        buf = f"{buf} {part}".strip()
        content = [w for w in re.findall(r"\w+", buf) if w.lower() not in QUESTION_WORDS | _GLUE]
        if len(content) >= min_words:
            out.append(buf)
            buf = ""
    if buf and out:
        out[-1] = f"{out[-1]} {buf}"
    if len(out) <= 1:
        return []
    if len(out) > most:
        keep = sorted(sorted(range(len(out)), key=lambda i: -len(out[i]))[:most])
        out = [out[i] for i in keep]
    return out


def _alternation(names: Sequence[str], flags: int) -> re.Pattern[str] | None:
    if not names:
        return None
    return re.compile("|".join(rf"(?<!\w){re.escape(a)}(?!\w)" for a in names), flags)


def _hhmm(hm: str) -> str:
    h, *rest = hm.split(":")
    return ":".join([f"{int(h):02d}", *rest])


def _cut(q: str, spans: Sequence[tuple[int, int]]) -> str:
    out, pos = [], 0
    for s, e in sorted(spans):
        if s >= pos:
            out.append(q[pos:s])
            pos = e
    out.append(q[pos:])
    return " ".join(" ".join(out).split())
