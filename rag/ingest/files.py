"""Files and folders → Documents: discovery, size limits, decoding, one reader per type.

Folders are walked (hidden files and folders ignored); a file of a type no reader knows
is skipped with a reason that counts in the summary. A file named explicitly must be of
a supported type: anything else fails in one line naming the supported types, before
anything is read. Text is decoded as UTF-8 (or UTF-16 with a byte-order mark), else as
the page declares, else as charset-normalizer detects, with a warning naming the
encoding. What it does not do: fetch URLs (see `web`) or cluster duplicates (`dedup`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rag.errors import InputError
from rag.ingest.common import (
    Item,
    Items,
    ReadResult,
    Skipped,
    content_hash,
    slugify,
)

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES
SUPPORTED_LIST = " ".join(sorted(SUPPORTED))

# encodings preferred when charset-normalizer finds several equally plausible ones (short
# Western texts decode cleanly as a dozen code pages; windows-1252 is the likeliest)
_PREFERRED = ("utf_8", "cp1252", "latin_1", "iso8859_15", "cp1250", "cp1251")


def unsupported(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    kind = f"type {suffix}" if suffix else "type (no file extension)"
    return f"unsupported {kind}; supported: {SUPPORTED_LIST}"


# --------------------------------------------------------------------------- discovery


def discover(paths: Iterable[Path | str], max_files: int) -> list[tuple[Path, Path]]:
    """(file, root) pairs for every file under `paths` (unsupported types included, to be
    skipped with a reason), sorted and de-duplicated.

    Raises InputError for a path that does not exist or a file named explicitly whose
    type is not supported (before anything is read).
    """
    found: dict[Path, Path] = {}
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            raise InputError(f"path not found: {raw}; check the spelling or create it")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not _hidden(f, p):
                    found.setdefault(f.resolve(), p.resolve())
        else:
            if p.suffix.lower() not in SUPPORTED:
                raise InputError(f"cannot read {raw}: {unsupported(p)} (or an http(s) URL)")
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


def read_paths(
    paths: Iterable[Path | str],
    *,
    max_file_mb: float,
    max_files: int,
    html_extractor: str = "trafilatura",
) -> ReadResult:
    """Read every file under `paths` into Documents with unique ids and hashes."""
    result = ReadResult()
    ids = IdRegistry()
    for file, root in discover(paths, max_files):
        if file.suffix.lower() not in SUPPORTED:
            result.skipped.append(Skipped(str(file), unsupported(file)))
            continue
        result.files += 1
        path_id = slugify(_rel(file, root).rsplit(".", 1)[0])
        for item in read_file(file, max_file_mb, html_extractor=html_extractor):
            ids.collect(item, result, path_id)
    return result


class IdRegistry:
    """Gives every document of one read a unique id, with a warning when it had to."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def collect(self, item: Item, result: ReadResult, path_id: str | None = None) -> None:
        """Add a reader's item to `result`: documents get a unique id and their hash.
        `path_id` is the id a file's document takes when its own is taken."""
        if isinstance(item, Skipped):
            (result.warnings if item.kept else result.skipped).append(item)
            return
        doc = item
        if doc.id in self.seen:
            record = doc.origin is not None and _is_record(doc.origin)
            base = doc.id if record or path_id is None else path_id
            alt = self.unique(base)
            result.warnings.append(
                Skipped(
                    doc.origin or doc.id,
                    f"id '{doc.id}' is taken by {self.seen[doc.id]}; stored as '{alt}'",
                    True,
                )
            )
            doc.id = alt
        self.seen[doc.id] = doc.origin or doc.id
        doc.hash = content_hash(doc)
        result.documents.append(doc)

    def unique(self, base: str) -> str:
        if base not in self.seen:
            return base
        n = 2
        while f"{base}-{n}" in self.seen:
            n += 1
        return f"{base}-{n}"


def _is_record(origin: str) -> bool:
    """A JSON record's origin is "file#i", a JSONL record's "file:line"."""
    for sep in ("#", ":"):
        head, _, tail = origin.rpartition(sep)
        if head and tail.isdigit() and Path(head).suffix.lower() in JSON_SUFFIXES | JSONL_SUFFIXES:
            return True
    return False


def _rel(file: Path, root: Path) -> str:
    try:
        return str(file.relative_to(root))
    except ValueError:
        return file.name


def read_file(file: Path, max_file_mb: float, *, html_extractor: str = "trafilatura") -> Items:
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
    yield from read_bytes(
        data, file.suffix.lower(), slugify(file.stem) or "doc", where, html_extractor=html_extractor
    )


def read_bytes(
    data: bytes,
    suffix: str,
    doc_id: str,
    where: str,
    *,
    charset: str | None = None,
    url: str | None = None,
    html_extractor: str = "trafilatura",
) -> Items:
    """One file's (or fetched page's) bytes through the reader its type names."""
    if not data.strip():
        yield Skipped(where, "empty file")
        return
    if suffix in PDF_SUFFIXES:
        from rag.ingest.pdf import read_pdf

        yield from read_pdf(data, doc_id, where)
        return
    decoded = decode(data, where, declared=charset, html=suffix in HTML_SUFFIXES)
    if isinstance(decoded, Skipped):
        yield decoded
        return
    text, note = decoded
    if note is not None:
        yield note
    if suffix in TEXT_SUFFIXES:
        from rag.ingest.text import read_text

        yield from read_text(text, doc_id, where)
    elif suffix in HTML_SUFFIXES:
        from rag.ingest.html import read_html

        yield from read_html(text, doc_id, where, extractor=html_extractor, url=url)
    elif suffix in JSON_SUFFIXES:
        from rag.ingest.records import read_json

        yield from read_json(text, where)
    else:
        from rag.ingest.records import read_jsonl

        yield from read_jsonl(text, where)


def decode(
    data: bytes, where: str, *, declared: str | None = None, html: bool = False
) -> tuple[str, Skipped | None] | Skipped:
    """(text, a warning naming the encoding when it was not UTF-8) or why it is not text."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a byte-order mark (Windows "Unicode")
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as e:
            return Skipped(where, f"not UTF-16 (byte {e.start}); convert it to UTF-8")
    if b"\x00" in data[:8192]:
        return Skipped(where, "binary file (not text)")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    if html and declared is None:
        declared = _meta_charset(data)
    for enc in filter(None, [declared]):
        try:
            return data.decode(enc), None  # what the page or the server says it is
        except (UnicodeDecodeError, LookupError):
            pass
    enc = _detect(data)
    if enc is None:
        return Skipped(where, "not text in any known encoding; convert it to UTF-8")
    text = data.decode(enc, errors="replace")
    return text, Skipped(where, f"not UTF-8: read as {enc} (detected)", kept=True)


def _meta_charset(data: bytes) -> str | None:
    import re

    m = re.search(
        rb"""<meta[^>]{0,200}charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", data[:4096], re.I
    )
    return m.group(1).decode("ascii") if m else None


def _detect(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    found = list(from_bytes(data[:200_000]))
    if not found:
        return None
    best = min((r.chaos, -r.coherence) for r in found)
    tied = [r.encoding for r in found if (r.chaos, -r.coherence) == best]
    return next((e for e in _PREFERRED if e in tied), tied[0])
