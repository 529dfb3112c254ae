"""What the chat shows, as plain strings and dicts (no chainlit import, unit-tested).

Security model: everything that comes from the articles or a model (answer text,
titles, sources, urls, passages) is untrusted. An article can contain HTML or markdown,
and an LLM answer can repeat it.

- Message content is rendered by chainlit as Markdown. With `unsafe_allow_html = false`
  raw HTML is not interpreted, but markdown links and images are, and GFM turns bare
  URLs and e-mail addresses into links. So every untrusted string that goes into a
  message passes through `md_escape`: every ASCII punctuation character is
  backslash-escaped (CommonMark allows it for all of them) and the GFM autolink
  patterns are broken with an invisible WORD JOINER (U+2060; not U+200B, which chainlit
  uses as its streaming cursor).
- Only the citation markers the app puts back itself (`[1]`, `[2]` ... for citations
  that exist) stay unescaped: chainlit turns the name of an element ("[1]") into the
  clickable link that opens the side panel.
- Passages never go through Markdown: they are CustomElement props, rendered by
  `public/elements/Citation.jsx` as React text nodes.

What it does not do: talk to chainlit, retrieve or answer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from rag.text import quoted
from rag.types import Answer, Citation

MAX_CITATIONS = 20  # public/elements/[1].jsx ... [20].jsx are generated at startup
WJ = "\u2060"  # WORD JOINER: invisible, breaks GFM autolinks
_MD_SPECIAL = frozenset(chr(c) for c in range(33, 127) if not chr(c).isalnum())
_LOOKAHEAD = 2  # characters after position i that decide how character i is escaped
_MARKER = re.compile(r"\[(\d{1,3})\]")
_ESCAPED_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")


# --------------------------------------------------------------------------- escaping


def _escape_range(raw: str, a: int, b: int) -> str:
    """Escape raw[a:b], looking at the characters around it for context."""
    out: list[str] = []
    for i in range(a, b):
        c = raw[i]
        if c == "\r":
            if raw[i + 1 : i + 2] == "\n":
                continue
            c = "\n"
        if c == "@":
            out.append(WJ)  # e-mail autolinks: /[-.\w+]+@[-\w]+(\.[-\w]+)+/
        out.append("\\" + c if c in _MD_SPECIAL else c)
        low = raw[max(0, i - 5) : i + 1].lower()
        if c == ":" and raw[i + 1 : i + 3] == "//" and low.endswith(("http:", "https:")):
            out.append(WJ)  # "https:⁠//" is no URL for GFM
        elif c in "wW" and low.endswith("www") and raw[i + 1 : i + 2] == ".":
            out.append(WJ)  # "www⁠." neither
    return "".join(out)


def md_escape(text: object) -> str:
    """Untrusted text → Markdown that renders it literally (no HTML, links, images)."""
    s = "" if text is None else str(text)
    return _escape_range(s, 0, len(s))


class StreamEscaper:
    """`md_escape` for streamed pieces.

    Holds back the last two characters, so the concatenated output equals
    `md_escape(whole text)` even when "https://" or "www." is split across pieces.
    """

    def __init__(self) -> None:
        self.raw = ""
        self.sent = 0

    def feed(self, piece: str) -> str:
        self.raw += piece
        upto = max(self.sent, len(self.raw) - _LOOKAHEAD)
        out = _escape_range(self.raw, self.sent, upto)
        self.sent = upto
        return out

    def flush(self) -> str:
        out = _escape_range(self.raw, self.sent, len(self.raw))
        self.sent = len(self.raw)
        return out


# --------------------------------------------------------------------------- citations


def element_name(n: int) -> str:
    """The element name of citation n, which is also its visible text.

    chainlit links every occurrence of an element's name in the message (a plain
    substring replace, no word boundaries): a bare "1" would also link the 1 in "2024".
    """
    return f"[{n}]"


def cited_numbers(text: str) -> list[int]:
    """Citation numbers in the order they first appear in the text."""
    seen: list[int] = []
    for m in _MARKER.finditer(text):
        n = int(m.group(1))
        if n not in seen:
            seen.append(n)
    return seen


def cited(answer: Answer) -> list[Citation]:
    """The citations the answer text really uses, in order of first use (at most 20)."""
    if answer.abstained:
        return []
    by_n = {c.n: c for c in answer.citations}
    return [by_n[n] for n in cited_numbers(answer.text) if n in by_n][:MAX_CITATIONS]


def render_answer(text: str, valid: Iterable[int]) -> str:
    """The escaped answer with our own `[n]` markers put back for valid citations."""
    ok = set(valid)

    def put_back(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return element_name(n) if n in ok else m.group(0)

    return _ESCAPED_MARKER.sub(put_back, md_escape(text))


def format_date(value: str | None) -> str:
    """'2025-04-18T09:30:00Z' → '18 Apr 2025'; anything unparsable is shown as given."""
    if not value:
        return ""
    try:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return f"{dt.day} {dt:%b %Y}"


def safe_url(url: str | None) -> str | None:
    """The url if it is http(s) with a host (never javascript:, data: ...), else None."""
    if not url:
        return None
    try:
        p = urlparse(str(url).strip())
    except ValueError:
        return None
    return str(url).strip() if p.scheme in ("http", "https") and p.netloc else None


def _spans(quotes: Sequence[tuple[int, int]], start: int, length: int) -> list[list[int]]:
    """Document spans → sorted, merged spans relative to a passage at `start`."""
    rel = []
    for qs, qe in quotes:
        s, e = max(0, qs - start), min(length, qe - start)
        if e > s:
            rel.append([s, e])
    rel.sort()
    merged: list[list[int]] = []
    for s, e in rel:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return merged


def citation_props(c: Citation) -> dict[str, Any]:
    """What the side panel (public/elements/Citation.jsx) shows for one `[n]`.

    `highlights` are the cited sentences as [start, end) offsets into `passage`
    (the chunk text, which starts at document offset `chunk.start`); `flagged` are
    [start, end, reason] of its sentences suspected of being orders to AI systems.
    """
    ch, doc = c.hit.chunk, c.hit.doc
    passage = ch.text or ""
    return {
        "n": int(c.n),
        "doc_id": str(ch.doc_id),
        "title": str(doc.title or ch.doc_id),
        "source": str(doc.source or ""),
        "url": safe_url(doc.url),
        "published_at": str(doc.published_at or ""),
        "published_label": format_date(doc.published_at),
        "passage": passage,
        "start": int(ch.start),
        "highlights": _spans(c.quotes, ch.start, len(passage)),
        # sentences flagged as instructions to AI systems (rag.injection): shown as such
        "flagged": [
            [*span, str(f[3])]
            for f in ch.flags
            for span in _spans([(f[0], f[1])], ch.start, len(passage))
        ],
    }


def first_words(text: str, n: int = 8) -> str:
    """The first n words of a passage or sentence, '…' when there is more."""
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


def passage_hint(c: Citation) -> str:
    """What tells two passages of one article apart: the first words of the cited
    sentence (of the passage when no sentence is known)."""
    ch = c.hit.chunk
    if c.quotes:
        qs, qe = min(c.quotes)
        text = ch.text[max(0, qs - ch.start) : max(0, qe - ch.start)]
    else:
        text = ch.text
    return quoted(first_words(text.strip(" \n\"'“”‘’")))


def sources_block(citations: Sequence[Citation]) -> str:
    """The Markdown 'Sources' list under an answer: only what was cited. When one
    article is cited through several passages, each line also shows its passage's first
    words, so [2] and [3] of one title can be told apart."""
    lines = ["", "", "**Sources**", ""]
    titles = Counter(c.hit.doc.title or c.hit.chunk.doc_id for c in citations)
    for c in citations:
        doc = c.hit.doc
        meta = " · ".join(
            x for x in (md_escape(doc.source), md_escape(format_date(doc.published_at))) if x
        )
        title = doc.title or c.hit.chunk.doc_id
        line = f"- {element_name(c.n)} {md_escape(title)}" + (f" — {meta}" if meta else "")
        if titles[title] > 1:
            line += f" — {md_escape(passage_hint(c))}"
        lines.append(line)
    return "\n".join(lines)


def answer_markdown(answer: Answer) -> str:
    """The finished answer: escaped text with clickable markers, then Sources.

    An abstention is shown as such (its own words, once), with no sources.
    """
    if answer.abstained:
        return md_escape(answer.text)
    cites = cited(answer)
    body = _with_unsupported(answer, [c.n for c in cites])
    return body + sources_block(cites) if cites else body


UNSUPPORTED_HREF = "#unsupported"  # styled by public/chat.css, kept from opening by chat.js
UNSUPPORTED_TIP = "No passage shown supports this sentence: check it before you rely on it."


def _with_unsupported(answer: Answer, valid: Sequence[int]) -> str:
    """The answer's Markdown; each sentence the check found unsupported (issue 12) is a
    link to #unsupported whose title is the tooltip: a distinct style and a hover note,
    with no HTML."""
    text, out, pos = answer.text, [], 0
    for s in answer.sentences:
        if s.claim and not s.supported and pos <= s.start < s.end <= len(text):
            out.append(render_answer(text[pos : s.start], valid))
            inner = render_answer(text[s.start : s.end], valid)
            out.append(f'[{inner}]({UNSUPPORTED_HREF} "{UNSUPPORTED_TIP}")')
            pos = s.end
    out.append(render_answer(text[pos:], valid))
    return "".join(out)


def footer(model: str, top_k: int, seconds: float, question: str, search_query: str | None) -> str:
    """A discreet line under the answer: model, top-k, time, and what was searched."""
    parts = [f"model: {md_escape(model)}", f"top-k: {top_k}", f"{seconds:.1f} s"]
    line = "\n\n_" + " · ".join(parts) + "_"
    if search_query and " ".join(search_query.split()) != " ".join(question.split()):
        line += f"  \n_searched for: {md_escape(search_query)}_"
    return line


def error_markdown(message: str | None) -> str:
    """A readable error message (never a traceback). None: an unexpected error."""
    if message is None:
        return (
            "**Sorry, something went wrong on our side.** The error was logged; please try again."
        )
    one_line = " ".join(str(message).split())
    if len(one_line) > 600:
        one_line = one_line[:600] + "…"
    return f"**Sorry, I couldn't answer that.** {md_escape(one_line)}"


# --------------------------------------------------------------------------- resume


def _json_obj(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            obj = json.loads(value)
        except ValueError:
            return {}
        return obj if isinstance(obj, dict) else {}
    return {}


def history_from_steps(steps: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Rebuild the conversation (for follow-ups) from a persisted thread's steps.

    Only answered questions count, as in a live session: a question whose answer
    failed is dropped. The assistant turn is the raw answer text kept in the step's
    metadata (`answer_text`), not the rendered Markdown.
    """
    history: list[dict[str, str]] = []
    pending: str | None = None
    for step in steps:
        kind = step.get("type")
        if kind == "user_message":
            pending = str(step.get("output") or "")
        elif kind == "assistant_message":
            meta = _json_obj(step.get("metadata"))
            text = meta.get("answer_text")
            if pending is not None and not step.get("isError") and isinstance(text, str):
                history += [
                    {"role": "user", "content": pending},
                    {"role": "assistant", "content": text},
                ]
            pending = None
    return history


def parse_element_props(elements: Iterable[dict[str, Any]] | None) -> None:
    """SQLite gives `elements.props` back as a JSON string; the panel needs an object."""
    for el in elements or []:
        if isinstance(el.get("props"), str):
            el["props"] = _json_obj(el["props"])
