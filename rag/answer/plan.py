"""Question → Plan: what kind of answer is wanted, for each part, about what.

    "Who asked for it, and which country first posted an ambassador to Kabul?"

becomes two parts: an entity (a person, "asked for it") and an entity (a country,
"first posted an ambassador to Kabul"). Each part carries its subject: the names, numbers
and content terms that evidence for it must hold. The whole question carries what
`rag.query` finds (sources, dates) when the caller passes the parser, whether it wants
the newest report ("latest"), and outlets it names that the index may not hold.

Kinds: entity (who / which X / what company), date (when / what year), number (how many
/ how much), yesno (is / does / did ...: with a flavour — "agree" for do they agree /
is it consistent, "order" for before / after, "claim" otherwise), choice (X or Y?),
why, list, summary, describe ("who is X", "what is X"), other.

What it does not do: look at any passage. Rule-based; nothing in it knows a question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text import terms, words

_AUX = (
    r"is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|shall|might|must"
    r"|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|hasn't|haven't"
)
_YESNO_START = re.compile(rf"^\s*(?:{_AUX})\b", re.I)
# "Between A and B, was there ...", "After X reported ..., did ...": the question proper
# starts after a leading adverbial clause
_LEADING = re.compile(
    r"^\s*(?:between|after|before|following|considering|given|according to|based on|in light "
    r"of|since|when|while|prior to|as per|in|from|with)\b[^?]*?,\s*(?P<rest>(?:"
    + _AUX
    + r"|who|what|which|when|why|how|where)\b.*)$",
    re.I,
)
_WHY = re.compile(
    r"^\s*(?:why|how come)\b|\b(?:reasons?|motives?|motivations?|rationale|what (?:drove|"
    r"prompted|motivated|led|caused|compelled|explains?)|what is behind|what's behind|"
    r"what lies behind|what (?:do|does|did) [\w' -]+? (?:hope|hopes|want|wants|expect|aim|seek|"
    r"intend)(?: to (?:gain|get|achieve|win)| from))\b",
    re.I,
)
_WHEN = re.compile(
    r"^\s*when\b|\b(?:what|which|in what|on what)\s+(?:year|date|month|day|decade|time)\b"
    r"|\bsince when\b|\bhow long ago\b",
    re.I,
)
_NUMBER = re.compile(
    r"\bhow (?:many|much|long|old|far|big|large|often)\b|\b(?:what|which)\s+(?:number|"
    r"percentage|share|amount|sum|figure|price|cost|toll|total)\b|\bdeath toll\b",
    re.I,
)
_SUMMARY = re.compile(
    r"^\s*(?:summari[sz]e|sum up|give (?:me )?(?:an? )?(?:overview|summary|rundown|recap)|"
    r"(?:an? )?(?:overview|summary) of|tell me (?:about|what)|what(?:'s| is) (?:the story|going "
    r"on|happening|new)|any news|what happened|what do (?:we|the articles) know|brief me|"
    r"explain)\b",
    re.I,
)
_NEWS = re.compile(  # "What is the latest news?"
    r"^\s*what(?:'s| is| are)?\s+(?:the\s+)?(?:latest|newest|most recent)(?:\s+(?:news|"
    r"developments?|updates?|reports?))?\s*\??\s*$",
    re.I,
)
_LIST = re.compile(
    r"\b(?:what|which|name)\s+(?:the\s+)?(?:two|three|four|five|six|several|various|main|key)\b"
    r"|^\s*(?:list|name)\b|\bwhat (?:are|were) the\b.*\b(?:factors|reasons|steps|measures|"
    r"points|ways|examples|restrictions|demands)\b|\b(?:what|which)\s+(?:\w+\s+)?(?:examples|"
    r"parallels|precedents|factors|measures|steps|demands|restrictions)\b",
    re.I,
)
_DESCRIBE = re.compile(r"^\s*(?:who|what)\s+(?:is|are|was|were)\s+(?P<x>[^?]+?)\s*\??$", re.I)
_LATEST = re.compile(
    r"\b(?:latest|most recent|newest|recently|currently|current|now|today|last)\b", re.I
)
_AGREE = re.compile(
    r"\b(?:agree|agreement|disagree|consistent|consistency|inconsistent|inconsistency|same|"
    r"similar|similarly|identical|align|aligned|differ|differs|different|difference|"
    r"contradict|contradicts|change|changed|discrepanc(?:y|ies)|match)\b",
    re.I,
)
_ORDER = re.compile(r"\b(?:before|after|earlier|later|prior to|first|preceded?|followed)\b", re.I)
# "... consistent or inconsistent?", "..., Johnny Cardoso or De'Von Achane?"
_CHOICE_TAIL = re.compile(
    r"(?:,|\bremain|\bbe|\bwas it|\bis it|\bthe)?\s*(?P<a>[\w'’.\- ]{2,40}?)\s+or\s+"
    r"(?P<b>[\w'’.\- ]{2,40}?)\s*\??\s*(?:\((?P<c>[\w/ ]+)\))?\s*$",
    re.I,
)
_PAREN_CHOICE = re.compile(r"\((?P<a>[a-z]+)\s*/\s*(?P<b>[a-z]+)\)\s*\??\s*$", re.I)
_SPLIT_PARTS = re.compile(
    r"\s*(?:\?|;|,?\s+and\s+(?=(?:who|whom|whose|what|when|where|which|why|how)\s+(?:"
    + _AUX
    + r"|\w+ed|\w+s)\b)|,\s+and\s+(?=(?:who|whom|whose|what|when|where|which|why|how)\b))\s*",
    re.I,
)
_ENTITY_NOUNS = {
    "person": "person individual man woman official executive analyst economist activist "
    "ambassador envoy diplomat minister secretary chancellor governor mayor commander "
    "leader minister president ceo founder player coach athlete driver singer actor actress "
    "artist author writer journalist spokesperson spokesman spokeswoman judge lawyer "
    "prosecutor general senator politician scientist researcher director manager star".split(),
    "org": "company companies firm organization organisation organisations organizations "
    "group groups institution agency platform service app brand team club party network "
    "outlet publication startup bank exchange court body".split(),
    "place": "country countries nation nations city cities state states region place "
    "location venue town province capital".split(),
}
_WH_ENTITY = re.compile(
    r"^\s*(?:(?P<who>who|whom|whose)\b|(?:which|what)\s+(?P<noun>[a-z]+(?:\s+(?!(?:and|or|of|"
    r"has|have|had|is|are|was|were|did|does|do|will|can)\b)[a-z]+){0,2})\b)",
    re.I,
)
# words that ask rather than say what a question is about
GENERIC = frozenset(
    """name names kind type sort happen happened happens say says said describe described
    mean means exactly roughly approximately many much long year years date time first called
    according article articles report reports reported new recent current currently day month
    week come comes came coming go goes went get gets got take takes took make makes made give
    gives gave become becomes became tell told ask asked asks know known think thing things
    way ways main key one ones also do did does question answer detail details specific
    mention mentioned mentions indicate indicates suggest suggests state states stated
    information article's news source sources story""".split()
)
OUTLET_WORDS = re.compile(
    r"\b(?:times|post|journal|news|herald|guardian|telegraph|tribune|daily|weekly|gazette|"
    r"chronicle|review|wire|press|reuters|bloomberg|cnn|espn|bbc|nbc|abc|cbs|fox|sky|ap|afp|"
    r"cricinfo|cnet|forbes|economist|hindu|express|mail|mirror|standard|observer|insider|"
    r"magazine|radio|tv|network|verge|wired|techcrunch|engadget|politico|axios|vox|"
    r"bulletin|courier|sentinel|examiner|independent|atlantic|newsweek|time)\b",
    re.I,
)
_OUTLET_MENTION = re.compile(
    r"(?:\b(?:article|report|piece|story|coverage|op-ed|column|interview|analysis)s?\s+"
    r"(?:from|by|in|of|on)\s+|\b(?:according to|reported by|published by|per)\s+)"
    r"(?P<a>(?:the\s+)?(?:[A-Z][\w&'’.\-]*\s*){1,5})"
    r"|(?P<b>(?:[A-Z][\w&'’.\-]*\s+){1,5})(?:article|report|piece|story|coverage|op-ed)s?\b"
)


_PREP = frozenset(
    "in at on to for of from by with during since after before between about into over under "
    "who which that whose when where as than".split()
)


_CLAUSE_AUX = frozenset("do does did will would can could should must might".split())


def focus_core(focus: str) -> str:
    """The head of a focus phrase: its words up to the first preposition or relative
    ("people were injured in the March attack" → "people were injured"), or up to the
    auxiliary that opens a clause about the counted thing ("commuters does the closure
    affect" → "commuters")."""
    out = []
    for w in focus.split():
        if (w.lower() in _PREP or w.lower() in _CLAUSE_AUX) and out:
            break
        out.append(w)
    return " ".join(out)


@dataclass
class Part:
    """One thing the question asks."""

    text: str
    kind: str
    flavour: str = ""  # yesno: agree | order | claim
    entity_type: str = ""  # entity: person | org | place | "" (any)
    terms: list[str] = field(default_factory=list)  # content terms (stemmed)
    names: list[str] = field(default_factory=list)  # proper names it gives
    numbers: list[str] = field(default_factory=list)  # numbers and years it gives
    options: list[str] = field(default_factory=list)  # choice: the alternatives
    focus: str = ""  # describe: the thing to describe; number: what is counted
    predicate: str = ""  # entity: what the one asked for did ("asked", "blamed")


@dataclass
class Plan:
    question: str
    parts: list[Part]
    latest: bool = False
    outlets: list[str] = field(default_factory=list)  # outlet-like names it mentions

    @property
    def kind(self) -> str:
        return self.parts[0].kind if len(self.parts) == 1 else "compound"


def plan(question: str) -> Plan:
    q = " ".join(question.split())
    texts = split_parts(q)
    parts = [_part(t) for t in texts]
    return Plan(q, parts, latest=bool(_LATEST.search(q)), outlets=outlet_mentions(q))


def kind_of(question: str) -> str:
    """The kind of a question's first part (cheap: no passages needed)."""
    q = " ".join(question.split())
    return _part(split_parts(q)[0]).kind if q else "other"


def split_parts(q: str) -> list[str]:
    """The questions inside a compound one ("who asked for it, and which country ...?")."""
    if _YESNO_START.match(q) or _LEADING.match(q):
        return [q]  # a yes/no question's "and" joins claims to check together
    pieces = [p.strip(" ,") for p in _SPLIT_PARTS.split(q) if p and p.strip(" ,")]
    if len(pieces) <= 1:
        return [q]
    out: list[str] = []
    for p in pieces:
        if out and len([w for w in words(p) if w not in GENERIC]) < 2:
            out[-1] = f"{out[-1]} {p}"  # too short to stand alone
        else:
            out.append(p)
    return out


def main_clause(q: str) -> str:
    """The question without a leading adverbial clause ("Between A and B, was ...")."""
    m = _LEADING.match(q)
    return m.group("rest") if m else q


_LEAD_PREP = re.compile(
    r"^\s*(?:in|at|on|from|to|for|with|by|of)\s+(?=(?:which|what|whom)\b)", re.I
)


def _part(text: str) -> Part:
    core = _LEAD_PREP.sub("", main_clause(text))  # "In which city ..." asks "which city"
    part = Part(text=text, kind="other")
    part.names = names_in(text)
    part.numbers = re.findall(r"\b\d[\d,.]*\b|\b\d{4}s\b", text)
    part.terms = [t for t in dict.fromkeys(terms(text))]
    choice = _choice(core)
    if _YESNO_START.match(core):
        if choice:
            part.kind, part.options = "choice", choice
        else:
            part.kind = "yesno"
            part.flavour = (
                "agree" if _AGREE.search(core) else "order" if _ORDER.search(core) else "claim"
            )
        return part
    typed = _WH_ENTITY_TYPED(core) or bool(re.match(r"(?i)^\s*(?:who|whom|whose)\b", core))
    if _SUMMARY.match(core) or _NEWS.match(core):
        part.kind = "summary"
    elif _WHY.search(core) and not (typed and not re.match(r"(?i)^\s*why\b", core)):
        part.kind = "why"
    elif _WHEN.search(core):
        part.kind = "date"
    elif _NUMBER.search(core):
        part.kind = "number"
        m = re.search(r"\bhow (?:many|much)\s+(?P<x>[^?]+)", core, re.I)
        part.focus = m.group("x") if m else ""
    elif _LIST.search(core):
        part.kind = "list"
    else:
        m = _WH_ENTITY.match(core)
        d = _DESCRIBE.match(core)
        n = _NAME_OF.search(core)
        if n:
            part.kind, part.focus = "entity", n.group("x")
            part.entity_type = entity_type(n.group("x")) or ""
        elif d and _is_name(d.group("x")) and len(d.group("x").split()) <= 6:
            part.kind, part.focus = "describe", d.group("x")
        elif d and not _WH_ENTITY_TYPED(core) and core.lower().startswith("who"):
            x = d.group("x").split()[0].lower()
            acted = x.endswith("ed") or x in _PARTICIPLES  # "who was blamed": a person or group
            part.kind, part.entity_type = "entity", "who" if acted else "person"
        elif d and not _WH_ENTITY_TYPED(core) and len(d.group("x").split()) <= 6:
            part.kind, part.focus = "describe", d.group("x")
        elif m and m.group("who"):
            part.kind, part.entity_type = "entity", "who"
        elif m and m.group("noun"):
            typ = entity_type(m.group("noun"))
            if typ is not None:
                part.kind, part.entity_type = "entity", typ
    if part.kind == "entity":
        part.predicate = _predicate(core)
    elif part.kind in ("other", "entity"):
        m = _HOW_DID.match(core)
        part.predicate = m.group("v").lower() if m else ""
    if choice and part.kind in ("other", "entity"):
        part.kind, part.options = "choice", choice
    return part


_PARTICIPLES = frozenset(
    "behind responsible blamed accused chosen known seen given held taken made sent won led "
    "hit shot".split()
)
_NAME_OF = re.compile(r"\bthe name of (?P<x>(?:the |an? )?[^?,]+)", re.I)


def _is_name(x: str) -> bool:
    """ "Jamila Afghani", "the Islamic State": mostly capitalised words."""
    ws = [w for w in x.split() if w.lower() not in ("the", "a", "an", "of")]
    return bool(ws) and sum(w[:1].isupper() for w in ws) >= max(1, len(ws) - 1)


_PRED = re.compile(
    r"^\s*(?:who|whom|whose|(?:which|what)\s+[a-z]+(?:\s+[a-z]+)?)\s+(?:(?:is|are|was|were|has|"
    r"have|had|did|does|do)\s+(?:been\s+|being\s+)?)?(?P<v>[a-z]+)",
    re.I,
)


_HOW_DID = re.compile(
    r"^\s*(?:how|what|when|where)\s+(?:did|does|do|has|have|had|will|would)\s+(?:the\s+)?"
    r"(?:[\w'’-]+\s+){1,4}?(?P<v>react|respond|reply|justify|defend|handle|vote|retaliate|"
    r"compensate|apologi[sz]e|pay|spend|fund)\b",
    re.I,
)


def _predicate(core: str) -> str:
    """The verb after the wh-phrase: "who asked for ..." → "asked"."""
    m = _PRED.match(core)
    v = m.group("v").lower() if m else ""
    return "" if v in ("the", "a", "an", "to", "of", "in", "not") else v


def _WH_ENTITY_TYPED(core: str) -> bool:
    m = _WH_ENTITY.match(core)
    return bool(m and m.group("noun") and entity_type(m.group("noun")) is not None)


def entity_type(noun: str) -> str | None:
    """person / org / place / "" (some named thing) for the noun after which / what;
    None when it asks for no name (a plural, a kind: "which schools", "what type")."""
    ws = noun.lower().split()
    if not ws or ws[0] in _NOT_ENTITY:
        return None
    last = ws[-1]
    if last.endswith("s") and not last.endswith(("ss", "us", "is")):
        return None  # "which Western powers": a list
    for typ, nouns in _ENTITY_NOUNS.items():
        if any(w in nouns for w in ws):
            return typ
    return ""


_NOT_ENTITY = frozenset(
    """type kind sort types kinds is are was were do does did has have had can could will
    would should happened happens the a an of about""".split()
)


def _choice(core: str) -> list[str]:
    """The alternatives of "... X or Y?" when they are short (else it is a yes/no question)."""
    m = _PAREN_CHOICE.search(core)
    if m:
        return [m.group("a"), m.group("b")]
    if " or " not in core:
        return []
    tail = core.rstrip(" ?")
    a_part, _, b = tail.rpartition(" or ")
    b = b.strip(" ,")
    if not b or len(b.split()) > 4:
        return []
    # the first alternative: as many words before "or" as the second has (at least one)
    a_words = re.split(r"[\s,]+", a_part.strip(" ,"))
    n = max(1, len(b.split()))
    a = " ".join(a_words[-n:])
    if a.lower() in ("not", "it", "them", "this", "that") or b.lower() in ("not", "no"):
        return []
    if re.match(r"(?i)^(?:does|do|did|is|are|was|were|has|have)\b", b):
        return []  # "..., or does Y ...?" joins two claims
    return [a.strip(), b.strip()]


_NOT_NAME = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday i the a an in on at for of and
    or but if as by to from with who what when where which why how is are was were do does
    did has have had can could will would should between after before following considering
    according based given since while during""".split()
)


def names_in(text: str) -> list[str]:
    """The names a question gives ("Igor Krasnov", "TechCrunch"), not its first word."""
    from rag.answer.values import names

    out = [n.text for n in names(text) if n.start > 0]
    return list(dict.fromkeys(n.removesuffix("’s").removesuffix("'s") for n in out))


def outlet_mentions(q: str) -> list[str]:
    """Names the question uses for the outlets of articles ("a Bloomberg report", "an
    article from The Hindu"): outlet-like words, or capitalised names before "article"."""
    out: list[str] = []
    for m in _OUTLET_MENTION.finditer(q):
        name = (m.group("a") or m.group("b") or "").strip(" '’")
        name = re.sub(r"^(?:(?:did|does|do|is|was|were|are|has|have|had|between|after|before|"
                      r"which|what|who|how|when|while|and|both|the|a|an)\s+)+", "", name,
                      flags=re.I).strip()  # fmt: skip
        name = re.sub(r"(?:'s|’s)$", "", name)
        if not name or name.lower() in _NOT_NAME:
            continue
        if m.group("b") and not OUTLET_WORDS.search(name) and len(name.split()) > 3:
            continue
        out.append(name)
    return list(dict.fromkeys(out))
