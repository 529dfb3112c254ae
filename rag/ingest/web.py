"""URLs → Documents: a web page, a PDF, an RSS/Atom feed's items or a sitemap's pages.

A page URL is one document (id: a slug of the URL; origin: the URL). A feed URL (any
RSS or Atom dialect, read by feedparser) ingests each item's linked page, with the
item's title, link and date filling what the page does not say. A sitemap (or sitemap
index) ingests the pages it lists. At most `max_pages` pages per feed or sitemap.

Re-ingesting asks each page "changed since?" with the ETag / Last-Modified stored with
it (`known`): a 304 answer is an `Unchanged`, costing no download or embedding; a page
whose server keeps no validators is downloaded and compared by content hash. What it
does not do: decide what is stored (see `api.ingest`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from rag.ingest.common import Item, Skipped, Unchanged, url_slug
from rag.ingest.fetch import Fetched, Fetcher, FetchError
from rag.types import Document

_FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+xml"}
_XML_TYPES = {"application/xml", "text/xml", "application/rdf+xml"} | _FEED_TYPES
_LOC = re.compile(r"<loc>\s*(.*?)\s*</loc>", re.S | re.I)
_SITEMAP_DEPTH = 3


def is_url(value: object) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^\s/]+", value, re.I) is not None


def read_urls(
    urls: Iterable[str],
    fetcher: Fetcher,
    *,
    known: Mapping[str, tuple[str, dict[str, str]]] | None = None,
    max_pages: int = 500,
    html_extractor: str = "trafilatura",
) -> Iterator[Item | Unchanged]:
    """Documents, skips and unchanged pages for each URL, in order. `known` maps a stored
    page's URL to its document id and HTTP validators."""
    reader = _Reader(fetcher, known or {}, max_pages, html_extractor)
    for url in urls:
        yield from reader.url(url.strip())


class _Reader:
    def __init__(
        self, fetcher: Fetcher, known: Mapping[str, Any], max_pages: int, extractor: str
    ) -> None:
        self.fetcher, self.known, self.max_pages = fetcher, known, max_pages
        self.extractor = extractor
        self.done: dict[str, str] = {}  # final URL → asked URL of the pages read this run

    def url(self, url: str) -> Iterator[Item | Unchanged]:
        got = self._get(url)
        if isinstance(got, Skipped | Unchanged):
            yield got
            return
        kind = _kind(got)
        if kind == "feed":
            yield from self._feed(got)
        elif kind == "sitemap":
            yield from self._sitemap(got, 0)
        else:
            yield from self._page(got, {})

    def _get(self, url: str) -> Fetched | Skipped | Unchanged:
        known = self.known.get(url)
        try:
            got = self.fetcher.get(url, known[1] if known else None)
        except FetchError as e:
            return Skipped(url, f"not fetched: {e}")
        if got.not_modified and known:
            return Unchanged(known[0], url)
        return got

    def _page(self, got: Fetched, fallback: dict[str, Any]) -> Iterator[Item]:
        from rag.ingest.files import read_bytes

        if got.final_url in self.done and self.done[got.final_url] != got.url:
            first = self.done[got.final_url]
            yield Skipped(got.url, f"redirects to {got.final_url}, read as {first}", kept=True)
            return
        self.done[got.final_url] = got.url
        kind = _kind(got)
        suffix = {"html": ".html", "pdf": ".pdf", "text": ".txt"}.get(kind)
        if suffix is None:
            what = got.content_type or "no content type"
            yield Skipped(got.url, f"unsupported content ({what}); expected a page, PDF or feed")
            return
        items = read_bytes(
            got.content,
            suffix,
            url_slug(got.url) or "page",
            got.url,
            charset=got.charset,
            url=got.final_url,
            html_extractor=self.extractor,
        )
        for item in items:
            if isinstance(item, Document):
                _fill(item, got, fallback)
            yield item

    def _feed(self, got: Fetched) -> Iterator[Item | Unchanged]:
        import feedparser

        feed = feedparser.parse(got.content)
        entries = list(feed.entries)
        if not entries:
            yield Skipped(got.url, "feed with no items")
            return
        site = (feed.feed.get("title") or "").strip() or None
        if len(entries) > self.max_pages:
            yield Skipped(
                got.url,
                f"feed has {len(entries)} items; read the first {self.max_pages} "
                "(ingest.max_pages)",
                kept=True,
            )
        for e in entries[: self.max_pages]:
            link = (e.get("link") or "").strip()
            if not is_url(link) or link in self.done.values():
                continue
            fallback = {
                "title": (e.get("title") or "").strip() or None,
                "published_at": _entry_date(e),
                "source": site,
                "author": (e.get("author") or "").strip() or None,
                "feed": got.url,
            }
            page = self._get(link)
            if isinstance(page, Skipped | Unchanged):
                yield page
            else:
                yield from self._page(page, fallback)

    def _sitemap(self, got: Fetched, depth: int) -> Iterator[Item | Unchanged]:
        text = got.content.decode("utf-8", errors="replace")
        locs = [re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", x).strip() for x in _LOC.findall(text)]
        locs = [x.replace("&amp;", "&") for x in locs if is_url(x)]
        if re.search(r"<sitemapindex\b", text, re.I):
            if depth >= _SITEMAP_DEPTH:
                yield Skipped(got.url, "sitemap index nested too deep; name its sitemaps")
                return
            for loc in locs:
                sub = self._get(loc)
                if isinstance(sub, Skipped | Unchanged):
                    yield sub
                elif _kind(sub) == "sitemap":
                    yield from self._sitemap(sub, depth + 1)
            return
        if not locs:
            yield Skipped(got.url, "sitemap lists no pages")
            return
        if len(locs) > self.max_pages:
            yield Skipped(
                got.url,
                f"sitemap lists {len(locs)} pages; read the first {self.max_pages} "
                "(ingest.max_pages)",
                kept=True,
            )
        for loc in locs[: self.max_pages]:
            if loc in self.done.values():
                continue
            page = self._get(loc)
            if isinstance(page, Skipped | Unchanged):
                yield page
            else:
                yield from self._page(page, {})


def _kind(got: Fetched) -> str:
    """'feed', 'sitemap', 'html', 'pdf', 'text' or '' from the content type and the bytes."""
    head = got.content[:1024].lstrip().lower()
    path = got.final_url.split("?", 1)[0].lower()
    if got.content_type == "application/pdf" or head.startswith(b"%pdf") or path.endswith(".pdf"):
        return "pdf"
    xml = got.content_type in _XML_TYPES or head.startswith(b"<?xml")
    if xml or head.startswith((b"<rss", b"<feed", b"<urlset", b"<sitemapindex")):
        if re.search(rb"<(urlset|sitemapindex)\b", got.content[:4096]):
            return "sitemap"
        if re.search(rb"<(rss|feed|rdf:rdf)\b", got.content[:4096]):
            return "feed"
        if got.content_type in _FEED_TYPES:
            return "feed"
    if got.content_type in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html")
    ):
        return "html"
    if got.content_type in ("text/plain", "text/markdown") or path.endswith((".txt", ".md")):
        return "text"
    return ""


def _fill(doc: Document, got: Fetched, fallback: Mapping[str, Any]) -> None:
    """The page's own metadata first; the feed item's (title, date, source) fills gaps."""
    doc.id = url_slug(got.url) or doc.id
    doc.origin = got.url
    doc.url = doc.url if is_url(doc.url) else got.final_url
    if fallback.get("title") and (not doc.title or doc.title == "Untitled"):
        doc.title = fallback["title"]
    doc.published_at = doc.published_at or fallback.get("published_at")
    doc.source = doc.source or fallback.get("source")
    if fallback.get("author") and "author" not in doc.extra:
        doc.extra["author"] = fallback["author"]
    if fallback.get("feed"):
        doc.extra["feed"] = fallback["feed"]
    validators = got.validators()
    if validators:
        doc.extra["http"] = validators


def _entry_date(e: Any) -> str | None:
    """An item's date as ISO 8601 (UTC), from what feedparser parsed."""
    import time

    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        t = e.get(key)
        if t:
            return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", t)
    return None
