"""HTML pages → the article's main text and metadata, without the page's clutter.

The main text comes from trafilatura (menus, ads, "Related" boxes, cookie banners,
comments and footers are left out, also on pages without <article>/<main>: see
bench/html_extractors.py for the comparison with the selectolax reader kept here as
the fallback). The metadata comes first from the page's own <meta> tags (full ISO
timestamps, og:site_name), then from what trafilatura finds (JSON-LD, bylines, a
<title> without its " | Site" suffix).

Hostile pages: a page nested deeper than `MAX_HTML_DEPTH` elements is read by the
linear tokenizer of `flat_html` (no tree, no recursion), since tree building is
quadratic in depth and an extractor that walks the tree recursively would hit Python's
recursion limit. What it does not do: fetch pages or decode bytes.
"""

from __future__ import annotations

import re
from typing import Any

from rag.ingest.common import Items, Skipped, clean, finish, paragraphs
from rag.ingest.flat_html import (
    BLOCK_TAGS,
    MAX_HTML_DEPTH,
    META_DATE,
    META_SOURCE,
    META_TITLE,
    META_URL,
    flat_html_fields,
    html_depth,
)

EXTRACTORS = ("trafilatura", "selectolax")
_DROP_TAGS = "script, style, noscript, template, nav, header, footer, aside, form, iframe, svg"
_META_AUTHOR = ("author", "article:author", "dc.creator", "byl")
# " | Site", " - Site", " — Site" at the end of a <title>
_SUFFIX = re.compile(r"\s+[|\-–—:·•]\s+([^|\-–—:·•]{2,60})$")


def read_html(
    html: str, doc_id: str, where: str, *, extractor: str = "trafilatura", url: str | None = None
) -> Items:
    html = clean(html)
    if html_depth(html) > MAX_HTML_DEPTH:
        yield Skipped(
            where,
            f"HTML nested more than {MAX_HTML_DEPTH} elements deep; read as plain text "
            "(its layout is ignored)",
            kept=True,
        )
        fields = flat_html_fields(html)
    else:
        fields = html_fields(html, extractor=extractor, url=url)
    body = fields.pop("body")
    if not body.strip():
        yield Skipped(where, "HTML page with no text")
        return
    meta = {k: v for k, v in fields.items() if k != "title" and v}
    yield from finish(meta, doc_id, fields.get("title"), body, where)


def html_fields(
    html: str, *, extractor: str = "trafilatura", url: str | None = None
) -> dict[str, Any]:
    """Title, url, published_at, source, author and main text (`body`) of a page that
    nests at most `MAX_HTML_DEPTH` deep."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    fields = _meta_fields(tree)
    main = _trafilatura(html, url) if extractor == "trafilatura" else None
    if main is not None and main["body"]:
        fields["body"] = _drop_leading_title(main["body"], main.get("title") or fields["title"])
        for k in ("source", "published_at", "author", "url"):
            fields[k] = fields.get(k) or main.get(k)
        # trafilatura's title has the site suffix removed; ours may not
        fields["title"] = _best_title(fields["title"], main.get("title"), fields.get("source"))
    else:
        fields["body"] = _selectolax_body(tree)
        fields["title"] = _best_title(fields["title"], None, fields.get("source"))
    return fields


def selectolax_fields(html: str) -> dict[str, Any]:
    """The reader before trafilatura (kept as the fallback, and for the comparison)."""
    return html_fields(html, extractor="selectolax")


def _meta_fields(tree: Any) -> dict[str, Any]:
    def meta(*names: str) -> str | None:
        for n in names:
            node = tree.css_first(f'meta[property="{n}"]') or tree.css_first(f'meta[name="{n}"]')
            if node is not None and (node.attributes.get("content") or "").strip():
                return " ".join(str(node.attributes["content"]).split())
        return None

    title = meta(*META_TITLE)
    if not title:
        t = tree.css_first("title") or tree.css_first("h1")
        title = " ".join(t.text().split()) if t is not None else None
    canonical = tree.css_first('link[rel="canonical"]')
    url = meta(*META_URL) or (canonical.attributes.get("href") if canonical is not None else None)
    published = meta(*META_DATE)
    if not published:
        tnode = tree.css_first("time[datetime]")
        published = tnode.attributes.get("datetime") if tnode is not None else None
    author = meta(*_META_AUTHOR)
    if author and author.startswith(("http://", "https://")):  # article:author is often a URL
        author = None
    return {
        "title": title or None,
        "url": url,
        "published_at": published,
        "source": meta(*META_SOURCE),
        "author": author,
    }


_CONFIG: Any = None


def _config() -> Any:
    """trafilatura's settings, with its "extensive" date search off: that one guesses a
    date from any year on the page (a footer's "© 2026" became 2026-01-01), and a
    document's date is never invented. Dates in markup (JSON-LD, <time>, meta) remain."""
    global _CONFIG
    if _CONFIG is None:
        from trafilatura.settings import use_config

        cfg = use_config()
        cfg.set("DEFAULT", "EXTENSIVE_DATE_SEARCH", "off")
        _CONFIG = cfg
    return _CONFIG


def _trafilatura(html: str, url: str | None) -> dict[str, Any] | None:
    from trafilatura import bare_extraction

    try:
        doc = bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            deduplicate=False,
            favor_precision=True,  # the same recall on news pages (bench), no menus
            config=_config(),
        )
    except (ValueError, TypeError, RecursionError, AttributeError):  # malformed trees
        return None
    if doc is None:
        return None
    d = doc if isinstance(doc, dict) else doc.as_dict()
    text = d.get("text") or ""
    body = paragraphs(text.replace("\n", "\n\n"))
    return {
        "body": body,
        "title": d.get("title"),
        "source": d.get("sitename"),
        "published_at": d.get("date"),
        "author": d.get("author"),
        "url": d.get("url"),
    }


def _drop_leading_title(body: str, title: str | None) -> str:
    """trafilatura keeps the <h1> as the first line; the title is stored on its own."""
    first, sep, rest = body.partition("\n\n")
    if sep and title and " ".join(first.split()).casefold() == " ".join(title.split()).casefold():
        return rest
    return body


def _best_title(ours: str | None, theirs: str | None, source: str | None) -> str | None:
    """The page's title without the site's name: "Story | Metro Daily" → "Story"."""
    title = ours or theirs
    if not title:
        return None
    site = (source or "").casefold()
    if site and title.casefold().endswith(site):  # "Story | The Independent - Life and Style"
        head = title[: len(title) - len(site)]
        stripped = re.sub(r"\s+[|\-–—:·•]\s*$", "", head)
        if stripped != head and stripped.strip():
            return stripped.strip()
    while (m := _SUFFIX.search(title)) is not None:  # "Story | Metro Daily - World"
        tail = m.group(1).strip().casefold()
        if not ((site and (tail in site or site in tail)) or title[: m.start()] == theirs):
            break
        title = title[: m.start()].strip()
    if theirs and len(theirs) < len(title) and title.startswith(theirs):
        return theirs
    return title


def _selectolax_body(tree: Any) -> str:
    for node in tree.css(_DROP_TAGS):
        node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    return _block_text(root) if root is not None else ""


def _block_text(root: Any) -> str:
    """Text of `root` with a blank line between blocks; iterative, so deep nesting is fine."""
    parts: list[str] = []
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            parts.append(node.text_content or "")
        elif tag in BLOCK_TAGS:
            parts.append("\n\n")
    return paragraphs("".join(parts))
