"""Files → Documents: Markdown/text with optional front matter, HTML, JSON and JSONL.

What it does: finds the files under the given paths, reads each one into `Document`s
with stable ids and content hashes, and reports every file or record it skipped with
the reason. What it does not do: chunk, embed or touch an index (see `api.ingest`).

Ids: the file stem for .md/.txt/.html (slugged); for JSON records their `id` field,
else a slug of their `url`, else of their `title`. Ids are unique within one read: a
second document with the same id gets the slug of its relative path instead.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.types import Document

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES

_BODY_KEYS = ("body", "text", "content")
_DATE_KEYS = ("published_at", "date", "published", "pubdate")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


@dataclass(slots=True)
class Skipped:
    """A file or record that was not ingested (or, with `kept`, ingested with a caveat)."""

    where: str
    reason: str
    kept: bool = False


@dataclass(slots=True)
class ReadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # not ingested
    warnings: list[Skipped] = field(default_factory=list)  # ingested, with a caveat
    files: int = 0


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


def content_hash(doc: Document) -> str:
    payload = json.dumps(
        [doc.title, doc.source, doc.url, doc.published_at, doc.extra, doc.text],
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- discovery


def discover(paths: Iterable[Path | str], max_files: int) -> list[tuple[Path, Path]]:
    """(file, root) pairs for every supported file under `paths`, sorted, de-duplicated.

    Raises InputError for a path that does not exist (before anything is read).
    """
    found: dict[Path, Path] = {}
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            raise InputError(f"path not found: {raw}; check the spelling or create it")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in SUPPORTED and not _hidden(f, p):
                    found.setdefault(f.resolve(), p.resolve())
        else:
            found.setdefault(p.resolve(), p.resolve().parent)
        if len(found) > max_files:
            raise InputError(
                f"more than {max_files} files under {raw}; ingest a smaller folder or raise "
                "limits.max_files (RAG_LIMITS__MAX_FILES)"
            )
    return sorted(found.items())


def _hidden(f: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in f.relative_to(root).parts)


# --------------------------------------------------------------------------- reading


def read_paths(paths: Iterable[Path | str], *, max_file_mb: float, max_files: int) -> ReadResult:
    """Read every supported file under `paths` into Documents with unique ids and hashes."""
    result = ReadResult()
    seen: dict[str, str] = {}
    for file, root in discover(paths, max_files):
        result.files += 1
        for item in _read_file(file, root, max_file_mb):
            if isinstance(item, Skipped):
                (result.warnings if item.kept else result.skipped).append(item)
                continue
            doc = item
            if doc.id in seen:
                if file.suffix.lower() in JSON_SUFFIXES | JSONL_SUFFIXES:
                    alt = _unique(doc.id, seen)  # a record's id is its own: number it
                else:  # a file's id is its stem: take its path instead
                    alt = _unique(slugify(_rel(file, root).rsplit(".", 1)[0]), seen)
                result.warnings.append(
                    Skipped(
                        doc.origin or str(file),
                        f"id '{doc.id}' is taken by {seen[doc.id]}; stored as '{alt}'",
                        True,
                    )
                )
                doc.id = alt
            seen[doc.id] = doc.origin or str(file)
            doc.hash = content_hash(doc)
            result.documents.append(doc)
    return result


def _unique(base: str, seen: dict[str, str]) -> str:
    if base not in seen:
        return base
    n = 2
    while f"{base}-{n}" in seen:
        n += 1
    return f"{base}-{n}"


def _rel(file: Path, root: Path) -> str:
    try:
        return str(file.relative_to(root))
    except ValueError:
        return file.name


def _read_file(file: Path, root: Path, max_file_mb: float) -> Iterator[Document | Skipped]:
    where = str(file)
    try:
        size = file.stat().st_size
        if size > max_file_mb * 1024 * 1024:
            yield Skipped(
                where,
                f"larger than {max_file_mb:g} MB; raise limits.max_file_mb "
                "(RAG_LIMITS__MAX_FILE_MB) to ingest it",
            )
            return
        data = file.read_bytes()
    except OSError as e:
        yield Skipped(where, f"unreadable ({e.strerror or e}); check its permissions")
        return
    if not data.strip():
        yield Skipped(where, "empty file")
        return
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")  # a byte-order mark (Windows "Unicode")
    if b"\x00" in data[:8192] and not utf16:
        yield Skipped(where, "binary file (not text)")
        return
    try:
        text = data.decode("utf-16") if utf16 else data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        enc = "UTF-16" if utf16 else "UTF-8"
        yield Skipped(where, f"not {enc} (byte {e.start}); convert it to UTF-8")
        return
    suffix = file.suffix.lower()
    stem_id = slugify(file.stem) or "doc"
    if suffix in TEXT_SUFFIXES:
        yield from _read_text(text, stem_id, where)
    elif suffix in HTML_SUFFIXES:
        yield from _read_html(text, stem_id, where)
    elif suffix in JSON_SUFFIXES:
        yield from _read_json(text, where)
    else:
        yield from _read_jsonl(text, where)


def _clean(text: str) -> str:
    """Normalise line ends and drop zero-width characters; keep everything else."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_ZERO_WIDTH)


_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_HEADING = re.compile(r"\A[ \t]*#{1,6}[ \t]+(.+?)[ \t#]*(?:\n|\Z)")


def _read_text(text: str, doc_id: str, where: str) -> Iterator[Document | Skipped]:
    text = _clean(text)
    meta: dict[str, Any] = {}
    m = _FRONT.match(text)
    if m:
        import yaml

        try:
            loaded = yaml.safe_load(m.group(1))
            if not isinstance(loaded, dict):
                raise ValueError("front matter is not a mapping")
            meta = loaded
        except (yaml.YAMLError, ValueError) as e:
            first = str(e).splitlines()[0] if str(e) else "invalid YAML"
            yield Skipped(where, f"front matter ignored ({first})", kept=True)
        text = text[m.end() :]
    elif text.startswith("---\n"):
        yield Skipped(where, "front matter has no closing '---'; read as text", kept=True)
    body = text.strip("\n")
    title = _str(meta.get("title"))
    if not title:
        title, body = _title_from_body(body)
    if not body.strip():
        yield Skipped(where, "no text besides the title")
        return
    yield _make_doc(meta, doc_id, title, body, where)


def _title_from_body(body: str) -> tuple[str, str]:
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


def _str(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _make_doc(meta: dict[str, Any], doc_id: str, title: str, body: str, where: str) -> Document:
    date = next((meta[k] for k in _DATE_KEYS if meta.get(k) not in (None, "")), None)
    extra = {
        k: v
        for k, v in meta.items()
        if k not in {"title", "source", "url", "id", *_DATE_KEYS, *_BODY_KEYS}
        and isinstance(v, str | int | float | bool)
        and v not in ("", "None")
    }
    if meta.get("id") not in (None, ""):
        doc_id = slugify(str(meta["id"])) or doc_id
    return Document(
        id=doc_id,
        title=" ".join(title.split())[:500],
        text=body,
        source=_str(meta.get("source")),
        url=_str(meta.get("url")),
        published_at=_date(date),
        origin=where,
        extra=extra,
    )


def _date(v: Any) -> str | None:
    if v is None:
        return None
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return _str(v)


# --------------------------------------------------------------------------- HTML

_DROP_TAGS = "script, style, noscript, template, nav, header, footer, aside, form, iframe, svg"
_BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "tr",
    "br",
    "hr",
    "figcaption",
    "dd",
    "dt",
    "body",
}


# <meta> property/name keys per field, best first (both HTML readers use them)
_META_TITLE = ("og:title", "twitter:title")
_META_URL = ("og:url",)
_META_DATE = ("article:published_time", "date", "pubdate", "dc.date")
_META_SOURCE = ("og:site_name", "application-name")


def _paragraphs(text: str) -> str:
    """Blank-line separated paragraphs with their white space collapsed; empty ones gone."""
    lines = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n\n".join(line for line in lines if line)


def html_to_document_fields(html: str) -> dict[str, Any]:
    """Title, metadata and main text of an HTML page (no markup left in the text)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)

    def meta(*names: str) -> str | None:
        for n in names:
            node = tree.css_first(f'meta[property="{n}"]') or tree.css_first(f'meta[name="{n}"]')
            if node is not None and (node.attributes.get("content") or "").strip():
                return " ".join(str(node.attributes["content"]).split())
        return None

    title = meta(*_META_TITLE)
    if not title:
        t = tree.css_first("title") or tree.css_first("h1")
        title = " ".join(t.text().split()) if t is not None else None
    canonical = tree.css_first('link[rel="canonical"]')
    url = meta(*_META_URL) or (canonical.attributes.get("href") if canonical is not None else None)
    published = meta(*_META_DATE)
    if not published:
        tnode = tree.css_first("time[datetime]")
        published = tnode.attributes.get("datetime") if tnode is not None else None
    source = meta(*_META_SOURCE)

    for node in tree.css(_DROP_TAGS):
        node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    text = _block_text(root) if root is not None else ""
    return {"title": title, "url": url, "published_at": published, "source": source, "body": text}


def _block_text(root: Any) -> str:
    """Text of `root` with a blank line between blocks; iterative, so deep nesting is fine."""
    parts: list[str] = []
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            parts.append(node.text_content or "")
        elif tag in _BLOCK_TAGS:
            parts.append("\n\n")
    return _paragraphs("".join(parts))


# An HTML parser's tree building costs O(depth) per element, so a page nested 200,000
# elements deep takes minutes. Browsers cap the depth (Chromium at 512); past this one
# we read the page with a flat, linear tokenizer instead: blocks become paragraphs,
# markup is dropped, the title and <meta> fields are kept.
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
        elif name in _BLOCK_TAGS:
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
        "title": meta(*_META_TITLE) or title,
        "url": meta(*_META_URL, "rel:canonical"),
        "published_at": meta(*_META_DATE, "time"),
        "source": meta(*_META_SOURCE),
        "body": _paragraphs(html_lib.unescape("".join(parts))),
    }


def _read_html(html: str, doc_id: str, where: str) -> Iterator[Document | Skipped]:
    html = _clean(html)
    if html_depth(html) > MAX_HTML_DEPTH:
        yield Skipped(
            where,
            f"HTML nested more than {MAX_HTML_DEPTH} elements deep; read as plain text "
            "(its layout is ignored)",
            kept=True,
        )
        fields = flat_html_fields(html)
    else:
        fields = html_to_document_fields(html)
    body = fields.pop("body")
    if not body.strip():
        yield Skipped(where, "HTML page with no text")
        return
    title = fields.get("title")
    if not title:
        title, body = _title_from_body(body)
    if not body.strip():
        yield Skipped(where, "no text besides the title")
        return
    meta = {k: v for k, v in fields.items() if k != "title" and v}
    yield _make_doc(meta, doc_id, title, body, where)


# --------------------------------------------------------------------------- JSON


def _json_error(e: json.JSONDecodeError) -> str:
    """'line 1, column 20: invalid control character' (json's own message ends in 'at',
    the position it leaves out)."""
    what = e.msg.removesuffix(" at")
    return f"line {e.lineno}, column {e.colno}: {what[:1].lower()}{what[1:]}"


def _read_json(text: str, where: str) -> Iterator[Document | Skipped]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        yield Skipped(where, f"invalid JSON ({_json_error(e)}); fix the file")
        return
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if any(k in data for k in _BODY_KEYS):
            data = [data]
        elif len(lists) == 1:
            data = lists[0]
        else:
            yield Skipped(where, "JSON is neither a record nor a list of records")
            return
    if not isinstance(data, list):
        yield Skipped(where, "JSON is neither a record nor a list of records")
        return
    for i, rec in enumerate(data):
        yield from _record(rec, f"{where}#{i}")


def _read_jsonl(text: str, where: str) -> Iterator[Document | Skipped]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            yield Skipped(
                f"{where}:{lineno}", f"invalid JSON line ({_json_error(e)}); fix or remove it"
            )
            continue
        yield from _record(rec, f"{where}:{lineno}")


def _record(rec: Any, where: str) -> Iterator[Document | Skipped]:
    if not isinstance(rec, dict):
        yield Skipped(where, "record is not a JSON object")
        return
    body = next((rec[k] for k in _BODY_KEYS if isinstance(rec.get(k), str)), None)
    if body is None or not body.strip():
        yield Skipped(where, "record has no text (expected a 'body', 'text' or 'content' field)")
        return
    body = _clean(body).strip("\n")
    title = _str(rec.get("title"))
    if not title:
        title, body = _title_from_body(body)
    if not body.strip():
        yield Skipped(where, "record has no text besides its title")
        return
    yield _make_doc(rec, record_id(rec), title, body, where)
