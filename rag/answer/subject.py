"""Is a sentence about what the question asks? Terms, names and a few paraphrases.

A part of a question is about a subject: its names ("Igor Krasnov"), its numbers and
years ("1980s"), and its content terms ("GDP", "injured", "ambassador"). Evidence for it
must hold that subject, not only the story's general topic. Terms match by stem, or by a
small table of paraphrases news questions use ("died" ~ "deaths", "killed", "toll";
"asked for" ~ "request"). Question words ("say", "happen", "report") are not subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rag.answer.plan import GENERIC, Part
from rag.text import terms, words

# paraphrase classes, as stems (rag.text.terms of each word)
_CLASSES = [
    "die died dies dead death deaths kill killed killing fatal fatalities toll lives",
    "injure injured injuries injury wound wounded hurt",
    "ask asked request requested call called urge urged petition sought seek",
    "lift lifted lifting remove removed end ended unban unbanned scrap revoke rescind drop",
    "ban banned blacklist blacklisted outlaw outlawed prohibit proscribe designate designated "
    "label labelled labeled",
    "terrorist terrorism terror extremist",
    "country countries nation nations state",
    "company companies firm firms business",
    "buy bought acquire acquired acquisition purchase purchased",
    "win won victory beat",
    "rise rose increase increased grow grew growth climb jump gain",
    "fall fell decline declined drop dropped decrease decreased slump tumble loss lose lost",
    "leader head chief",
    "money fund funds funding cash",
    "recognise recognize recognition recognised recognized",
    "women woman female girls girl",
    "attack attacked massacre bombing assault",
    "send sent post posted appoint appointed dispatch",
    "office representation mission",
    "power rule ruled control seized",
    "worker workers employee employees staff",
    "price cost costs priced",
    "lawsuit suit sue sued case",
    "say said says state stated claim claimed",
    "blame blamed attribute attributed responsible orchestrate orchestrated",
    "react reacted reaction respond responded response",
    "locate located location based headquartered",
    "russia russian russians moscow kremlin",
    "china chinese beijing",
    "afghanistan afghan afghans kabul",
    "america american americans washington",
    "britain british uk london",
    "ukraine ukrainian kyiv",
    "israel israeli israelis",
    "iran iranian tehran",
    "europe european eu brussels",
    "india indian delhi",
    "japan japanese tokyo",
    "germany german berlin",
    "france french paris",
    "tie ties relations relationship normalise normalize engagement engage",
    "publish published release released report",
    "closed close shut shuttered",
    "university universities college colleges",
]
_CANON: dict[str, str] = {}  # a term → the name of its paraphrase class ("=die")
for _line in _CLASSES:
    _key = "=" + _line.split()[0]
    for _t in (t for w in _line.split() for t in terms(w)):
        _CANON.setdefault(_t, _key)

_GENERIC_TERMS = frozenset(t for w in GENERIC for t in terms(w))
_KIND_WORDS = frozenset(
    t
    for w in "why reason reasons cause causes when year date how many much who whom whose which "
    "what person individual company organization organisation country city number "
    "percentage amount total latest newest".split()
    for t in terms(w)
)


def canon(term: str) -> str:
    """The term's paraphrase class ("killed" and "deaths" share one), or the term."""
    return _CANON.get(term, term)


def keys(ts: Iterable[str]) -> frozenset[str]:
    """What a sentence's terms match: each term's class."""
    return frozenset(canon(t) for t in ts)


def has(sentence_keys: frozenset[str] | set[str], term: str) -> bool:
    """Does a sentence with these `keys` hold the term, or a paraphrase of it?"""
    return canon(term) in sentence_keys


def subject_terms(part: Part, drop: Iterable[str] = ()) -> list[str]:
    """The part's content terms that say what it is about (not how it asks)."""
    skip = _GENERIC_TERMS | _KIND_WORDS | set(drop)
    return [t for t in part.terms if t not in skip]


def name_found(name: str, texts: Sequence[str]) -> bool:
    """Does some text hold every word of the name (case and possessives ignored)?"""
    want = [w for w in words(name) if len(w) > 1]
    if not want:
        return True
    for t in texts:
        have = set(words(t))
        if all(w in have or any(h.startswith(w) for h in have) for w in want):
            return True
    return False


def coverage(
    sentence_terms: frozenset[str], wanted: Sequence[str], weight: dict[str, float]
) -> float:
    """Share of the wanted terms' weight the sentence holds (paraphrases count)."""
    total = sum(weight.get(t, 1.0) for t in wanted)
    if total <= 0:
        return 1.0
    return sum(weight.get(t, 1.0) for t in wanted if has(sentence_terms, t)) / total
