"""What every reader shares: the result types, ids, content hashes and text clean-up.

What it does not do: read files or fetch anything (see `files` and `web`).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rag.types import Document

BODY_KEYS = ("body", "text", "content")
DATE_KEYS = ("published_at", "date", "published", "pubdate")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


@dataclass(slots=True)
class Skipped:
    """A file or record that was not ingested (or, with `kept`, ingested with a caveat)."""

    where: str
    reason: str
    kept: bool = False


@dataclass(slots=True)
class Unchanged:
    """A fetched URL the server says has not changed since it was stored (HTTP 304)."""

    doc_id: str
    where: str


@dataclass(slots=True)
class ReadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # not ingested
    warnings: list[Skipped] = field(default_factory=list)  # ingested, with a caveat
    unchanged: list[Unchanged] = field(default_factory=list)  # not fetched again (304)
    files: int = 0  # files read, and pages fetched


Item = Document | Skipped
Items = Iterator[Item]


# --------------------------------------------------------------------------- ids


def slugify(value: str, max_len: int = 80) -> str:
    """ASCII, lowercase, dash-separated; long slugs keep a hash suffix to stay unique."""
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    if len(slug) > max_len:
        digest = hashlib.sha1(slug.encode()).hexdigest()[:8]
        slug = slug[: max_len - 9].rstrip("-") + "-" + digest
    return slug


def url_slug(url: str) -> str:
    """Slug of a URL without scheme, `www.`, query and fragment."""
    u = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip(), flags=re.I)
    u = re.sub(r"^www\.", "", u, flags=re.I)
    u = re.split(r"[?#]", u, maxsplit=1)[0]
    return slugify(u)


def record_id(record: dict[str, Any]) -> str:
    """The id a JSON record gets: its `id`, else a slug of its url, else of its title."""
    if record.get("id") not in (None, ""):
        return slugify(str(record["id"])) or "doc"
    if isinstance(record.get("url"), str) and record["url"].strip():
        return url_slug(record["url"]) or "doc"
    return slugify(str(record.get("title") or "")) or "doc"


# Keys of `Document.extra` that ingest derives after reading (duplicate clustering, HTTP
# validators): they describe the document's place in the index, not its content, so the
# content hash leaves them out and a change to them never costs an embedding.
DERIVED_KEYS = frozenset({"duplicate_of", "duplicate", "similarity", "http"})


def content_hash(doc: Document) -> str:
    extra = {k: v for k, v in doc.extra.items() if k not in DERIVED_KEYS}
    payload = json.dumps(
        [doc.title, doc.source, doc.url, doc.published_at, extra, doc.text],
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- text


def clean(text: str) -> str:
    """Normalise line ends and drop zero-width characters; keep everything else."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_ZERO_WIDTH)


_HEADING = re.compile(r"\A[ \t]*#{1,6}[ \t]+(.+?)[ \t#]*(?:\n|\Z)")


def title_from_body(body: str) -> tuple[str, str]:
    """Title from a leading Markdown heading or a short first line, which leaves the body."""
    h = _HEADING.match(body)
    if h:
        return h.group(1).strip(), body[h.end() :].strip("\n")
    first, sep, rest = body.partition("\n")
    first_s = first.strip()
    if sep and rest.strip() and 0 < len(first_s) <= 200 and not first_s.endswith((".", ",", ";")):
        return first_s, rest.strip("\n")
    words = first_s.split()
    short = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    return short or "Untitled", body


def paragraphs(text: str) -> str:
    """Blank-line separated paragraphs with their white space collapsed; empty ones gone."""
    lines = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n\n".join(line for line in lines if line)


def as_str(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def make_doc(meta: dict[str, Any], doc_id: str, title: str, body: str, where: str) -> Document:
    """A Document from a reader's fields; scalar metadata besides the known fields goes
    to `extra` (author, category, ...)."""
    date = next((meta[k] for k in DATE_KEYS if meta.get(k) not in (None, "")), None)
    extra = {
        k: v
        for k, v in meta.items()
        if k not in {"title", "source", "url", "id", *DATE_KEYS, *BODY_KEYS}
        and isinstance(v, str | int | float | bool)
        and v not in ("", "None")
    }
    if meta.get("id") not in (None, ""):
        doc_id = slugify(str(meta["id"])) or doc_id
    return Document(
        id=doc_id,
        title=" ".join(title.split())[:500],
        text=body,
        source=as_str(meta.get("source")),
        url=as_str(meta.get("url")),
        published_at=iso_date(date),
        origin=where,
        extra=extra,
    )


def iso_date(v: Any) -> str | None:
    if v is None:
        return None
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return as_str(v)


def finish(
    meta: dict[str, Any],
    doc_id: str,
    title: str | None,
    body: str,
    where: str,
    empty: str = "no text besides the title",
) -> Items:
    """The shared end of every reader: a title from the body when there is none, and no
    document made of a title alone (skipped with the reason `empty`)."""
    if not title:
        title, body = title_from_body(body)
    if not body.strip():
        yield Skipped(where, empty)
        return
    yield make_doc(meta, doc_id, title, body, where)
