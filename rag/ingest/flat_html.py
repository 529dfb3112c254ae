"""HTML read without building a tree: a linear tokenizer for hostile pages.

An HTML parser's tree building costs O(depth) per element (lexbor's and libxml2's), so a
page nested 200,000 elements deep takes minutes, and an extractor that walks the tree
recursively hits Python's recursion limit. Browsers cap the depth (Chromium at 512).
Past `MAX_HTML_DEPTH` a page is read here instead, in one left-to-right pass with no
recursion: blocks become paragraphs, markup is dropped, the title and <meta> fields are
kept. What it does not do: find the main content (see `html`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rag.ingest.common import paragraphs

BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "h1", "h2", "h3", "h4",
    "h5", "h6", "blockquote", "pre", "table", "tr", "br", "hr", "figcaption", "dd", "dt",
    "body",
}  # fmt: skip


# <meta> property/name keys per field, best first (every HTML reader uses them)
META_TITLE = ("og:title", "twitter:title")
META_URL = ("og:url",)
META_DATE = ("article:published_time", "date", "pubdate", "dc.date")
META_SOURCE = ("og:site_name", "application-name")


MAX_HTML_DEPTH = 512
# a tag, bounded in length so that a stray "<" never makes a scan quadratic
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]{0,63})\b([^<>]{0,4000})>")
_ATTR = re.compile(r"""([a-zA-Z_:][-\w:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+)""")
_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}  # fmt: skip
# elements whose end tag may be left out: the next sibling closes them, they do not nest
_IMPLIED_END = {
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody",
    "tfoot", "colgroup", "caption", "rb", "rt", "rp", "rtc",
}  # fmt: skip
# their content is text, not markup; dropped (the title is kept as the title)
_RAW_TEXT = {"script", "style", "textarea", "title", "xmp", "noscript", "template", "svg"}


def _html_tokens(html: str) -> Iterator[tuple[str, str, str, str]]:
    """(kind, name, attributes, text) in one left-to-right pass: kind is "text", "open",
    "close" or "raw" (a raw-text element whole: its text is the content). Comments and
    unterminated raw elements end where a browser would end them."""
    lower = html.lower()
    pos, n = 0, len(html)
    while pos < n:
        i = html.find("<", pos)
        if i < 0:
            yield "text", "", "", html[pos:]
            return
        if i > pos:
            yield "text", "", "", html[pos:i]
        if html.startswith("<!--", i):
            j = html.find("-->", i + 4)
            pos = n if j < 0 else j + 3
            continue
        m = _TAG.match(html, i)
        if m is None:
            if html.startswith("<!", i) or html.startswith("<?", i):  # doctype, <?xml ...>
                j = html.find(">", i)
                pos = n if j < 0 else j + 1
            else:
                yield "text", "", "", "<"
                pos = i + 1
            continue
        closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
        pos = m.end()
        if closing:
            yield "close", name, "", ""
        elif name in _RAW_TEXT and not attrs.rstrip().endswith("/"):
            j = lower.find("</" + name, pos)
            end = n if j < 0 else j
            yield "raw", name, attrs, html[pos:end]
            k = html.find(">", end)
            pos = n if j < 0 or k < 0 else k + 1
        else:
            yield "open", name, attrs, ""


def html_depth(html: str, limit: int = MAX_HTML_DEPTH) -> int:
    """How deep the elements of `html` nest (counting stops just past `limit`). Void
    elements and those with an optional end tag do not nest; `<div/>` does (HTML ignores
    the slash on a non-void element)."""
    depth = deepest = 0
    for kind, name, _, _ in _html_tokens(html):
        if name in _VOID or name in _IMPLIED_END:
            continue
        if kind == "close":
            depth = max(0, depth - 1)
        elif kind == "open":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
    return deepest


def flat_html_fields(html: str) -> dict[str, Any]:
    """Title, metadata and text of a page without building its tree (linear time)."""
    import html as html_lib

    title: str | None = None
    metas: dict[str, str] = {}
    parts: list[str] = []
    for kind, name, attrs, text in _html_tokens(html):
        if kind == "text":
            parts.append(text)
        elif kind == "raw":
            if name == "title" and title is None:
                title = " ".join(html_lib.unescape(text).split()) or None
        elif name in BLOCK_TAGS:
            parts.append("\n\n")
        elif kind == "open" and name in ("meta", "link", "time"):
            a = {k.lower(): html_lib.unescape(v.strip("\"'")) for k, v in _ATTR.findall(attrs)}
            key = (
                a.get("property") or a.get("name") or (f"rel:{a.get('rel')}" if "rel" in a else "")
            )
            value = a.get("content") or a.get("href") or a.get("datetime")
            if name == "time":
                key = "time"
            if key and value and key.lower() not in metas:
                metas[key.lower()] = " ".join(value.split())

    def meta(*keys: str) -> str | None:
        return next((metas[k] for k in keys if metas.get(k)), None)

    return {
        "title": meta(*META_TITLE) or title,
        "url": meta(*META_URL, "rel:canonical"),
        "published_at": meta(*META_DATE, "time"),
        "source": meta(*META_SOURCE),
        "body": paragraphs(html_lib.unescape("".join(parts))),
    }
