"""A small table of paraphrases news questions and answers use ("died" ~ "deaths",
"killed", "toll"; "asked for" ~ "request"), as classes of stems. The offline answerer
matches a question's subject with it (rag.answer.subject), the support check a claim's
words with its passage's (rag.check).
"""

from __future__ import annotations

from collections.abc import Iterable

from rag.text import terms

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


def canon(term: str) -> str:
    """The term's paraphrase class ("killed" and "deaths" share one), or the term."""
    return _CANON.get(term, term)


def keys(ts: Iterable[str]) -> frozenset[str]:
    """What a sentence's terms match: each term's class."""
    return frozenset(canon(t) for t in ts)
