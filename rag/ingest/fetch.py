"""HTTP fetching for ingest: httpx with timeouts, a size limit, a user agent, redirects,
conditional requests and robots.txt.

Every failure is a `FetchError` whose message is one line naming the cause (HTTP
status, timeout, refused connection, too large, disallowed by robots.txt) that ingest
reports as a skipped URL; nothing stored is touched. robots.txt follows RFC 9309: a
missing one (4xx) allows everything; one that cannot be fetched (5xx, network error)
allows nothing for now. What it does not do: parse what it fetches (see `web`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class FetchError(Exception):
    """A URL that could not be fetched; `str()` is the one-line reason."""


@dataclass(slots=True)
class Fetched:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int  # 200, or 304 (not modified: `content` is empty)
    content: bytes
    content_type: str  # media type, lower case, no parameters ("" when not given)
    charset: str | None
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def validators(self) -> dict[str, str]:
        """What to send next time to be told "not modified" (ETag, Last-Modified)."""
        out = {}
        if self.etag:
            out["etag"] = self.etag
        if self.last_modified:
            out["last_modified"] = self.last_modified
        return out


class Fetcher:
    """One HTTP client (connection reuse) and a robots.txt cache per site."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout_s: float = 20.0,
        max_mb: float = 20.0,
        max_redirects: int = 5,
        respect_robots: bool = True,
    ) -> None:
        import httpx

        self.user_agent = user_agent
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.max_mb = max_mb
        self.respect_robots = respect_robots
        self._robots: dict[str, Any] = {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=True,
            max_redirects=max_redirects,
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, validators: dict[str, str] | None = None) -> Fetched:
        """The body of `url` (status 200), or status 304 when `validators` (a stored
        ETag or Last-Modified) say it has not changed. Raises FetchError."""
        import httpx

        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError("not an http(s) URL")
        self.check_robots(url)
        headers = {}
        if validators:
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                final = str(r.url)
                if final != url:
                    self.check_robots(final)
                if r.status_code == 304:
                    return Fetched(url, final, 304, b"", "", None, None, None)
                if r.status_code >= 400:
                    phrase = r.reason_phrase or ""
                    raise FetchError(f"HTTP {r.status_code} {phrase}".strip())
                size = r.headers.get("content-length")
                if size and size.isdigit() and int(size) > self.max_bytes:
                    raise FetchError(self._too_large())
                body = bytearray()
                for part in r.iter_bytes():
                    body += part
                    if len(body) > self.max_bytes:
                        raise FetchError(self._too_large())
                ctype = r.headers.get("content-type", "")
                media, charset = _media_type(ctype)
                return Fetched(
                    url,
                    final,
                    r.status_code,
                    bytes(body),
                    media,
                    charset,
                    r.headers.get("etag"),
                    r.headers.get("last-modified"),
                )
        except httpx.TooManyRedirects:
            raise FetchError("too many redirects (raise ingest.max_redirects)") from None
        except httpx.TimeoutException:
            raise FetchError("timed out (raise ingest.fetch_timeout_s)") from None
        except httpx.ConnectError as e:
            raise FetchError(f"cannot connect ({_short(e)})") from None
        except httpx.HTTPError as e:
            raise FetchError(f"{type(e).__name__}: {_short(e)}") from None

    def _too_large(self) -> str:
        return (
            f"larger than {self.max_mb:g} MB; raise ingest.fetch_max_mb "
            "(RAG_INGEST__FETCH_MAX_MB) to fetch it"
        )

    def check_robots(self, url: str) -> None:
        """Raise FetchError when the site's robots.txt disallows `url` for our agent."""
        if not self.respect_robots:
            return
        parts = urlsplit(url)
        site = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        rules = self._robots.get(site)
        if rules is None:
            rules = self._robots[site] = self._load_robots(site)
        if isinstance(rules, str):
            raise FetchError(rules)
        if not rules.can_fetch(self.user_agent, url):
            raise FetchError(
                f"disallowed by {site}/robots.txt for {self.user_agent.split('/')[0]} "
                "(ingest.respect_robots)"
            )

    def _load_robots(self, site: str) -> Any:
        from urllib.robotparser import RobotFileParser

        import httpx

        rp = RobotFileParser()
        try:
            r = self._client.get(site + "/robots.txt")
        except httpx.HTTPError as e:
            return f"{site}/robots.txt unreachable ({type(e).__name__}); try again later"
        if r.status_code >= 500:
            return f"{site}/robots.txt answered HTTP {r.status_code}; try again later"
        if r.status_code >= 400:
            rp.allow_all = True  # no robots.txt: everything is allowed
        else:
            rp.parse(r.text[:500_000].splitlines())
        return rp


def _media_type(content_type: str) -> tuple[str, str | None]:
    media, _, params = content_type.partition(";")
    charset = None
    for p in params.split(";"):
        k, _, v = p.strip().partition("=")
        if k.lower() == "charset" and v:
            charset = v.strip().strip("\"'")
    return media.strip().lower(), charset


def _short(e: Exception) -> str:
    return " ".join(str(e).split())[:120] or type(e).__name__
