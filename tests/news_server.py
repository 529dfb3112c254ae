"""A real HTTP news site on 127.0.0.1 (a free port) for the fetching tests.

Pages are set per test (`site.pages[path] = Page(...)`); the server answers GET with
ETag / Last-Modified and 304 for a matching If-None-Match / If-Modified-Since, follows
what robots.txt says (it serves `site.robots`), redirects (`Page(redirect=...)`), can be
slow (`Page(delay_s=...)`), and counts the requests per path (`site.hits`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Page:
    body: bytes | str = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: bool = True  # send an ETag (and answer If-None-Match)
    last_modified: str | None = None
    redirect: str | None = None
    delay_s: float = 0.0

    def data(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


class Site:
    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.robots: str | None = "User-agent: *\nDisallow: /private/\n"
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            import socket

            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            path = self.path
            site.hits[path] += 1
            if path == "/robots.txt":
                if site.robots is None:
                    return self._send(404, b"not found", "text/plain")
                return self._send(200, site.robots.encode(), "text/plain")
            page = site.pages.get(path)
            if page is None:
                return self._send(404, b"<h1>Not found</h1>", "text/html")
            if page.delay_s:
                time.sleep(page.delay_s)
            if page.redirect:
                self.send_response(301)
                self.send_header("Location", page.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            data = page.data()
            tag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
            headers = {}
            if page.etag:
                headers["ETag"] = tag
                if self.headers.get("If-None-Match") == tag:
                    site.not_modified[path] += 1
                    return self._send(304, b"", None, headers)
            if page.last_modified:
                headers["Last-Modified"] = page.last_modified
                if self.headers.get("If-Modified-Since") == page.last_modified:
                    site.not_modified[path] += 1
                    return self._send(304, b"", None, headers)
            return self._send(page.status, data, page.content_type, headers)

        def _send(
            self, status: int, data: bytes, ctype: str | None, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that stops reading (a size limit) is expected, not news


@pytest.fixture
def news_site() -> Iterator[Site]:
    site = Site()
    server = _Server(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def article_page(
    title: str,
    paragraphs: list[str],
    *,
    site: str = "Metro Daily",
    date: str | None = "2026-03-02T08:00:00Z",
    author: str | None = "Ann Lee",
) -> str:
    """A cluttered news page: no <article>/<main>, menus, an ad, related links, a footer."""
    meta = f"<meta property='og:site_name' content='{site}'>"
    if date:
        meta += f"<meta property='article:published_time' content='{date}'>"
    if author:
        meta += f"<meta name='author' content='{author}'>"
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><title>{title} | {site}</title>{meta}</head><body>"
        "<div class='menu'><ul><li><a href='/'>Home</a></li><li><a href='/world'>World</a>"
        "</li><li><a href='/sport'>Sport</a></li></ul></div>"
        "<div class='ad'>Buy the new Phone 15 today — only $799 with free shipping!</div>"
        f"<div class='wrap'><div class='col'><h1>{title}</h1><div class='story'>{body}</div>"
        "</div><div class='side'><h3>Related</h3><ul><li><a href='/r1'>Celebrity chef opens "
        "a second restaurant downtown</a></li><li><a href='/r2'>Ten gadgets to buy before "
        "the holidays</a></li></ul></div></div>"
        "<div class='newsletter'>Sign up for our morning briefing: the day's top stories in "
        "your inbox.</div>"
        f"<div class='bottom'>© 2026 {site}. All rights reserved. <a href='/terms'>Terms</a>"
        "</div></body></html>"
    )
