"""Word-level text helpers shared by lexical search and the offline answerer.

`terms()` turns text into the index terms of lexical search: lowercase words, English
stop words dropped, possessives removed, Snowball-stemmed (PyStemmer). `quoted()` puts
text in quotation marks for display, nesting the quotes it holds.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

# A standard English stop-word list (the one of scikit-learn / bm25s, trimmed of words that
# carry meaning in news questions: numbers, "first", "last", "before", "after").
STOPWORDS = frozenset(
    """a about above across again against all almost alone along already also although always
    am among amongst an and another any anyhow anyone anything anyway anywhere are around as at
    be became because become becomes becoming been being beside besides between beyond both but
    by can cannot could did do does doing done down due during each eg either else elsewhere
    enough etc even ever every everyone everything everywhere except few for from further had
    has hasn't have having he hence her here hereafter hereby herein hereupon hers herself him
    himself his how however i ie if in indeed into is it its itself just least less ltd made
    many may me meanwhile might mine more moreover most mostly much must my myself namely
    neither never nevertheless next no nobody none noone nor not nothing now nowhere of off
    often on once one only onto or other others otherwise our ours ourselves out over own per
    perhaps please rather re same seem seemed seeming seems several she should since so some
    somehow someone something sometime sometimes somewhere still such than that the their theirs
    them themselves then thence there thereafter thereby therefore therein thereupon these they
    this those though through throughout thru thus to together too toward towards under until
    up upon us very via was we well were what whatever when whence whenever where whereafter
    whereas whereby wherein whereupon wherever whether which while whither who whoever whole
    whom whose why will with within without would yet you your yours yourself yourselves
    s t don didn doesn isn wasn weren won wouldn shouldn couldn""".split()
)


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def fold(text: str) -> str:
    """Lowercase with accents removed ("Café" → "cafe")."""
    text = text.lower()
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text)
    if _COMBINING.search(text) is None:
        return text
    return "".join(c for c in text if not unicodedata.combining(c))


_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def words(text: str) -> list[str]:
    """Lowercase words, possessive endings removed ("Russia's" → "russia")."""
    out: list[str] = []
    for w in _WORD.findall(fold(text).replace("’", "'")):
        if "'" not in w:
            out.append(w)
            continue
        if w.endswith("'s"):
            w = w[:-2]
        out.extend(p for p in w.split("'") if p)
    return out


_BRITISH = re.compile(r"(?<=\w{3})is(e|es|ed|ing|ation|ations)$")


def terms(text: str) -> list[str]:
    """Stemmed content words: what lexical search indexes and matches.

    British -ise spellings are folded into -ize first ("normalise" matches "normalize").
    """
    ws = words(text)
    new = [w for w in set(ws) if w not in _TERMS]
    if new:
        if len(_TERMS) > 1_000_000:  # a bound on memory for endless vocabularies
            _TERMS.clear()
        stems = _stemmer().stemWords([_BRITISH.sub(r"iz\1", w) for w in new])
        _TERMS.update((w, None if w in STOPWORDS else t) for w, t in zip(new, stems, strict=True))
    return [t for w in ws if (t := _TERMS[w]) is not None]


_TERMS: dict[str, str | None] = {}  # word → its term (None for a stop word)


_INNER_QUOTES = str.maketrans({"“": "‘", "”": "’", '"': "’"})
_OPENING_STRAIGHT = re.compile(r'(^|[\s(\[—–-])"')


def quoted(text: str) -> str:
    """Text in “double quotes”, its own double quotes turned into ‘single’ ones, so a
    sentence that ends in a quotation reads “… ‘rights.’” rather than “… “rights.””."""
    return "“" + _OPENING_STRAIGHT.sub("\\1‘", text).translate(_INNER_QUOTES) + "”"
