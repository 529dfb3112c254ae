"""Output checks against planted instructions: after generation, before the answer is used.

OWASP LLM01 asks to check outputs before use; these checks run on both answerers' drafts,
beside the support check (rag.check):
- `contacts(draft, hits)`: a link, e-mail address or phone number in the draft must be
  in the unflagged text of a passage the draft cites; else it is cut out, and a notice
  says so. (Planted text most often wants the reader sent somewhere.)
- `steered(answer)`: the answer repeats a flagged sentence of a shown passage (a run of
  `ECHO_WORDS` words), or a claim of it that no unflagged passage supports is closest to
  a flagged sentence. The caller then replaces the answer with the offline answer from
  the passages with no flagged sentence, with `NOTICE` before it.

What it does not do: find planted text (rag.injection) or check support (rag.check).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag import cite
from rag.injection import flagged
from rag.text import terms
from rag.types import Answer, Hit

ECHO_WORDS = 6  # a run this long shared with a flagged sentence is an echo
NOTICE = (
    "(The model's answer followed text planted in an article, so it was replaced by "
    "sentences quoted from the other passages.) "
)
CONTACT_NOTICE = "(Removed: {what} that no cited passage contains.)"

_URL = r"(?:https?://|www\.)[^\s\])>\"'”’]+[^\s\])>\"'”’.,;:!?]"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_DOMAIN = (
    r"(?<![@\w.-])(?:[a-z0-9-]+\.)+(?:com|org|net|io|xyz|info|biz|co|ru|uk|de|fr|cn|app|"
    r"site|online|example|top|click|link|gov|edu)\b(?:/[^\s\])>\"'”’]*[^\s\])>\"'”’.,;:!?])?"
)
_PHONE = r"(?<![\w+])\+?\(?\d{1,4}\)?(?:[ .-]\(?\d{2,4}\)?){2,5}(?![\w])"
_CONTACT = re.compile(
    f"(?P<email>{_EMAIL})|(?P<url>{_URL})|(?P<domain>{_DOMAIN})|(?P<phone>{_PHONE})", re.I
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


@dataclass(frozen=True, slots=True)
class Contact:
    kind: str  # "email" | "url" | "domain" | "phone"
    text: str
    start: int
    end: int


def find_contacts(text: str) -> list[Contact]:
    """Links, e-mail addresses and phone numbers (7 to 15 digits, grouped) in `text`."""
    out = []
    for m in _CONTACT.finditer(text):
        kind = m.lastgroup or "url"
        if kind == "phone":
            digits = sum(ch.isdigit() for ch in m.group(0))
            if not 7 <= digits <= 15 or _years(m.group(0)):
                continue
        out.append(Contact(kind, m.group(0), m.start(), m.end()))
    return out


def _years(s: str) -> bool:
    """ "2003 2021 2024" or "1999-2001" are years, not a phone number."""
    groups = re.split(r"[ .-]+", s.strip("()+ "))
    return all(len(g) == 4 and g[:2] in {"19", "20"} for g in groups)


def _unflagged_text(hit: Hit) -> str:
    c = hit.chunk
    if not c.flags:
        return c.text
    parts, pos = [], c.start
    for s, e in c.sentences or [(c.start, c.end)]:
        if flagged(c, (s, e)):
            parts.append(c.text[pos - c.start : s - c.start])
            pos = e
    parts.append(c.text[pos - c.start :])
    return " ".join(parts)


def _norm(s: str) -> str:
    s = re.sub(r"^(?:https?://)?(?:www\.)?", "", s.lower()).rstrip("/")
    return re.sub(r"[^\w@.]+", "", s)


def contacts(draft: str, hits: Sequence[Hit]) -> tuple[str, str | None]:
    """The draft with every link, e-mail address and phone number that no cited passage's
    unflagged text contains cut out, and a notice naming what was cut (None: nothing)."""
    found = find_contacts(draft)
    if not found:
        return draft, None
    cited = {n for n in cite.markers(draft) if 1 <= n <= len(hits)}
    allowed = " ".join(_norm(_unflagged_text(hits[n - 1])) for n in sorted(cited))
    phones = re.sub(r"\D", "", " ".join(_unflagged_text(hits[n - 1]) for n in cited))
    cut: list[Contact] = []
    for c in found:
        ok = (
            re.sub(r"\D", "", c.text) in phones
            if c.kind == "phone"
            else bool(_norm(c.text)) and _norm(c.text) in allowed
        )
        if not ok:
            cut.append(c)
    if not cut:
        return draft, None
    out, pos = [], 0
    for c in cut:
        out.append(draft[pos : c.start])
        pos = c.end
    out.append(draft[pos:])
    text = re.sub(r"[ \t]{2,}", " ", "".join(out))
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    kinds = {"email": "an e-mail address", "phone": "a phone number"}
    what = sorted({kinds.get(c.kind, "a link") for c in cut})
    return text, CONTACT_NOTICE.format(what=" and ".join(what))


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def _grams(text: str, n: int) -> set[tuple[str, ...]]:
    ws = _words(text)
    return {tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def steered(answer: Answer) -> str | None:
    """Why the answer follows planted text (see the module's docstring), or None."""
    flagged_texts: list[str] = []
    clean_grams: set[tuple[str, ...]] = set()
    clean_terms: list[set[str]] = []
    for h in answer.hits:
        c = h.chunk
        for s, e in c.sentences or [(c.start, c.end)]:
            sent = c.text[s - c.start : e - c.start]
            if flagged(c, (s, e)):
                flagged_texts.append(sent)
            else:
                clean_grams |= _grams(sent, ECHO_WORDS)
                clean_terms.append(set(terms(sent)))
    if not flagged_texts:
        return None
    text = cite.MARKER.sub("", answer.text)
    mine = _grams(text, ECHO_WORDS) - clean_grams
    for f in flagged_texts:
        shared = mine & _grams(f, ECHO_WORDS)
        if shared:
            return f"it repeats a flagged sentence (“{' '.join(min(shared))}…”)"
    bad_terms = [set(terms(f)) for f in flagged_texts]
    for sc in answer.sentences:
        if not sc.claim or sc.supported:
            continue
        ts = set(terms(sc.text))
        if len(ts) < 2:
            continue
        best_bad = max(len(ts & b) / len(ts) for b in bad_terms)
        best_clean = max((len(ts & g) / len(ts) for g in clean_terms), default=0.0)
        if best_bad >= 0.5 and best_bad > best_clean:
            return f"a claim rests only on a flagged sentence (“{sc.text[:60]}”)"
    return None


__all__ = ["CONTACT_NOTICE", "NOTICE", "Contact", "contacts", "find_contacts", "steered"]
