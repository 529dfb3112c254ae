"""URLs, RSS/Atom feeds and sitemaps, served by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag import api
from rag.cli import main
from rag.ingest import url_slug
from rag.store import open_index

from .conftest import settings_for
from .news_files import make_pdf
from .news_server import Page, Site, article_page

PARAS = {
    "/news/ferry.html": [
        "The city council of Arden voted on Monday to close the old ferry terminal at the end "
        "of the year, after engineers found cracks in its concrete piers.",
        "About 4,000 commuters a day will use a temporary pier north of the harbour.",
    ],
    "/news/bridge.html": [
        "The new bridge over the Elbe opened on Thursday after six years of construction, "
        "cutting the drive between the two towns to ten minutes.",
        "The bridge cost 410 million euros, a third more than planned.",
    ],
    "/private/leak.html": ["An internal memo that robots.txt keeps out of any crawler's reach."],
}


def rss(site: Site, paths: list[str]) -> str:
    items = "".join(
        f"<item><title>Feed title {i}</title><link>{site.url(p)}</link>"
        f"<pubDate>Tue, 0{i + 1} Sep 2026 10:00:00 GMT</pubDate></item>"
        for i, p in enumerate(paths)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Metro Daily</title>'
        f"<link>{site.url('/')}</link><description>News</description>{items}</channel></rss>"
    )


def serve_news(site: Site) -> None:
    for path, paras in PARAS.items():
        name = path.rsplit("/", 1)[1].split(".")[0].title()
        site.pages[path] = Page(article_page(f"{name} story", paras, date=None))
    site.pages["/feed.xml"] = Page(rss(site, list(PARAS)), "application/rss+xml")
    site.pages["/atom.xml"] = Page(
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Coast Herald</title><updated>2026-09-01T00:00:00Z</updated>"
        f"<entry><title>Bridge</title><link href='{site.url('/news/bridge.html')}'/>"
        "<id>b</id><updated>2026-09-03T09:30:00Z</updated></entry></feed>",
        "application/atom+xml",
    )


def test_a_feed_ingests_its_items_pages_with_its_dates(news_site: Site, encoder: Any) -> None:
    serve_news(news_site)
    s = settings_for(Path("ix"))
    r = api.ingest([news_site.url("/feed.xml")], s, encoder=encoder)
    assert sorted(r.added) == sorted(url_slug(news_site.url(p)) for p in list(PARAS)[:2])
    why = {x.where: x.reason for x in r.skipped}
    assert "disallowed by" in why[news_site.url("/private/leak.html")]
    assert news_site.hits["/private/leak.html"] == 0  # robots.txt was asked, not the page
    idx = open_index(Path("ix"))
    docs = {d.origin: d for d in idx.docs().values()}
    ferry = docs[news_site.url("/news/ferry.html")]
    assert ferry.title == "Ferry story" and ferry.source == "Metro Daily"  # the page's own
    assert ferry.published_at == "2026-09-01T10:00:00+00:00"  # the page has none: the item's
    assert ferry.url == news_site.url("/news/ferry.html")
    assert "Buy the new Phone" not in (idx.doc_text(ferry.id) or "")
    assert idx.manifest["inputs"] == [news_site.url("/feed.xml")]
    answer = api.Pipeline(s).ask("How many commuters use the ferry terminal each day?")
    assert "4,000" in answer.text and answer.citations[0].hit.doc.id == ferry.id


def test_reingest_fetches_again_and_updates_only_what_changed(
    news_site: Site, counting: Any
) -> None:
    serve_news(news_site)
    news_site.pages["/news/bridge.html"].etag = False  # no validators: compared by hash
    s = settings_for(Path("ix"))
    api.ingest([news_site.url("/feed.xml")], s, encoder=counting)
    first = counting.texts
    # the ferry page changes; the bridge page is the same, served without an ETag
    news_site.pages["/news/ferry.html"] = Page(
        article_page("Ferry story", [*PARAS["/news/ferry.html"], "The vote was 31 to 12."])
    )
    r = api.ingest(None, s, encoder=counting)  # no path: what the index was built from
    assert r.updated == [url_slug(news_site.url("/news/ferry.html"))]
    assert r.unchanged == [url_slug(news_site.url("/news/bridge.html"))]
    assert news_site.hits["/feed.xml"] == 2 and news_site.hits["/news/bridge.html"] == 2
    assert 0 < counting.texts - first <= 2  # only the ferry page's chunks embedded again
    # nothing changed now: the ferry page answers 304, nothing is downloaded or embedded
    before = counting.texts
    r = api.ingest(None, s, encoder=counting)
    assert news_site.not_modified["/news/ferry.html"] == 1
    assert sorted(r.unchanged) == sorted(url_slug(news_site.url(p)) for p in list(PARAS)[:2])
    assert not r.added and not r.updated and counting.texts == before


def test_pages_a_sitemap_and_an_atom_feed(news_site: Site, encoder: Any, tmp_path: Path) -> None:
    serve_news(news_site)
    news_site.pages["/sitemap.xml"] = Page(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{news_site.url('/news/ferry.html')}</loc><lastmod>2026-09-01</lastmod></url>"
        f"<url><loc>{news_site.url('/report.pdf')}</loc></url></urlset>",
        "application/xml",
    )
    pdf = make_pdf(tmp_path / "r.pdf", ["Harbour report page one.", "The pier reopens in May."])
    news_site.pages["/report.pdf"] = Page(pdf.read_bytes(), "application/pdf")
    news_site.pages["/old"] = Page(redirect=news_site.url("/news/bridge.html"))
    s = settings_for(tmp_path / "ix")
    r = api.ingest(
        [news_site.url("/sitemap.xml"), news_site.url("/atom.xml"), news_site.url("/old")],
        s,
        encoder=encoder,
    )
    assert not r.skipped, r.skipped
    docs = {d.origin: d for d in open_index(tmp_path / "ix").docs().values()}
    assert set(docs) == {
        news_site.url("/news/ferry.html"),
        news_site.url("/report.pdf"),
        news_site.url("/news/bridge.html"),  # from the Atom feed; /old redirects to it
    }
    bridge = docs[news_site.url("/news/bridge.html")]
    assert bridge.published_at == "2026-09-03T09:30:00+00:00" and bridge.source == "Metro Daily"
    assert docs[news_site.url("/report.pdf")].extra["pages"][0] == 0


def test_failed_fetches_are_skipped_and_lose_nothing_stored(
    news_site: Site, encoder: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_news(news_site)
    s = settings_for(Path("ix"))
    api.ingest([news_site.url("/news/ferry.html")], s, encoder=encoder)
    news_site.pages["/news/ferry.html"] = Page(status=503, body="busy")
    news_site.pages["/big.html"] = Page("<p>" + "x" * 2_000_000 + "</p>")
    news_site.pages["/loop"] = Page(redirect="/loop")
    news_site.pages["/data.bin"] = Page(b"\x00\x01", "application/octet-stream")
    urls = ["/news/ferry.html", "/missing.html", "/big.html", "/loop", "/data.bin"]
    code = _cli(
        capsys, "ingest", *(news_site.url(u) for u in urls), "--index", "ix", "-q",
        env={"RAG_INGEST__FETCH_MAX_MB": "1"},
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0 and "0 added" in out and "5 skipped" in out, (out, err)
    for path, reason in (
        ("/news/ferry.html", "not fetched: HTTP 503"),
        ("/missing.html", "not fetched: HTTP 404"),
        ("/big.html", "not fetched: larger than 1 MB; raise ingest.fetch_max_mb"),
        ("/loop", "not fetched: too many redirects"),
        ("/data.bin", "unsupported content (application/octet-stream)"),
    ):
        assert f"skipped {news_site.url(path)}: {reason}" in err, err
    assert "Traceback" not in err
    idx = open_index(Path("ix"))
    assert [d.origin for d in idx.docs().values()] == [news_site.url("/news/ferry.html")]


def test_robots_txt_unreachable_means_wait(news_site: Site, encoder: Any) -> None:
    serve_news(news_site)
    news_site.robots = None  # no robots.txt (404): everything allowed
    r = api.ingest([news_site.url("/private/leak.html")], settings_for(Path("a")), encoder=encoder)
    assert len(r.added) == 1
    news_site.robots = "User-agent: rag-news-ingest\nDisallow: /\n"
    s = settings_for(Path("b"))
    r = api.ingest([news_site.url("/news/bridge.html")], s, encoder=encoder)
    assert not r.added and "disallowed by" in r.skipped[0].reason
    s = settings_for(Path("c"), ingest={"respect_robots": False})
    assert len(api.ingest([news_site.url("/news/bridge.html")], s, encoder=encoder).added) == 1


def test_rag_ingest_json_feed_and_url_arguments_keep_their_slashes(
    news_site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_news(news_site)
    code = _cli(capsys, "ingest", news_site.url("/news/bridge.html"), "--index", "ix", "-q")
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("1 added"), err
    code = _cli(capsys, "ask", "How much did the Elbe bridge cost?", "--index", "ix", "--json")
    d = json.loads(capsys.readouterr().out)
    assert d["citations"] and d["citations"][0]["url"] == news_site.url("/news/bridge.html")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None) -> int:
    import os

    old = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        main(list(argv))
        return 0
    except SystemExit as e:
        return int(e.code or 0)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
