"""Reading news into Documents: files, folders and URLs, one reader per type.

    files      discovery, size limits, decoding (charset-normalizer), dispatch by type
    text       Markdown and plain text, YAML front matter
    html       web pages: main text without the clutter (trafilatura), metadata
    flat_html  hostile pages (nested past 512 elements) read in linear time
    pdf        PDFs, text per page, page offsets kept for "p. 3" citations
    records    JSON and JSON Lines records
    web        URLs: pages, RSS/Atom feeds and sitemaps, fetched with httpx (`fetch`)
    dedup      exact and near-duplicate (wire copy) clustering

What it does not do: chunk, embed or touch an index (see `api.ingest`).

Ids: the file stem for files (slugged); for JSON records their `id` field, else a slug
of their `url`, else of their `title`; for fetched pages a slug of their URL. Ids are
unique within one read: a second document with the same id gets the slug of its
relative path (a file) or a number (a record) instead.
"""

from rag.ingest.common import (
    ReadResult,
    Skipped,
    Unchanged,
    content_hash,
    record_id,
    slugify,
    url_slug,
)
from rag.ingest.files import SUPPORTED, discover, read_paths

__all__ = [
    "SUPPORTED",
    "ReadResult",
    "Skipped",
    "Unchanged",
    "content_hash",
    "discover",
    "read_paths",
    "record_id",
    "slugify",
    "url_slug",
]
