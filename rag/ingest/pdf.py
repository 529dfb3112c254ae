"""PDF files → one Document each, text page by page, with where every page starts.

pypdf reads the text layer of each page. Lines of a page are joined into paragraphs
(a hyphen split across lines is mended), pages are separated by a blank line, and the
document's `extra["pages"]` lists the character offset at which each page starts, so
a cited passage can say "p. 3" (`rag.types.page_label`). The title comes from the PDF's metadata,
else from its first line; the author from the metadata. A PDF with no text layer (a
scan) is skipped with the reason and the fix (OCR); an encrypted or broken one too.
What it does not do: OCR, tables or images.
"""

from __future__ import annotations

import io
import re
from typing import Any

from rag.ingest.common import Items, Skipped, as_str, clean, make_doc

_END = re.compile(r"""[.!?:;"'”’)\]]$""")
_JUNK_TITLES = re.compile(
    r"^(untitled|microsoft word - .*|document\d*|.*\.(docx?|pdf|indd))$", re.I
)


def read_pdf(data: bytes, doc_id: str, where: str) -> Items:
    import logging

    from pypdf import PdfReader

    # pypdf logs what it repairs in a damaged file; what matters reaches the user as a reason
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            yield Skipped(
                where, "encrypted PDF; save it without a password (qpdf --decrypt) and ingest that"
            )
            return
        texts = [page.extract_text() or "" for page in reader.pages]
        info = _info(reader)
    except Exception as e:  # pypdf raises many kinds on broken files: all mean "unreadable"
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        if type(e).__name__ == "DependencyError":
            yield Skipped(where, f"encrypted PDF ({reason}); save it without a password")
        else:
            yield Skipped(where, f"not a readable PDF ({reason}); check the file")
        return
    pages = [_page_text(t) for t in texts]
    if not any(p.strip() for p in pages):
        n = len(pages)
        yield Skipped(
            where,
            f"PDF with no text layer ({n} page{'s' * (n != 1)} of images, a scan?); "
            "run OCR on it first (e.g. ocrmypdf) and ingest the result",
        )
        return
    body, starts = _join(pages)
    title = info.get("title")
    if not title:
        first, _, rest = body.partition("\n\n")
        if first and len(first) <= 200 and rest.strip():
            title = first
        else:
            title = " ".join(body.split()[:12])
    doc = make_doc({k: v for k, v in info.items() if k != "title"}, doc_id, title, body, where)
    doc.extra["pages"] = starts
    yield doc


def _info(reader: Any) -> dict[str, Any]:
    meta = reader.metadata or {}
    title = as_str(meta.get("/Title"))
    if title and _JUNK_TITLES.match(title):
        title = None
    author = as_str(meta.get("/Author"))
    return {"title": title, "author": author}


def _page_text(text: str) -> str:
    """A page's lines joined into paragraphs: a line that ends a sentence and is shorter
    than most, or a much shorter one (a heading), ends its paragraph; 'exam-' + 'ple'
    across a line break becomes 'example'."""
    lines = [" ".join(ln.split()) for ln in clean(text).split("\n")]
    full = sorted(len(ln) for ln in lines if ln)
    if not full:
        return ""
    wide = full[len(full) * 3 // 4]  # a typical full line
    paras: list[str] = []
    cur = ""
    for ln in lines:
        if not ln:
            if cur:
                paras.append(cur)
            cur = ""
            continue
        if cur.endswith("-") and len(cur) > 1 and cur[-2].isalpha() and ln[:1].islower():
            cur = cur[:-1] + ln
        else:
            cur = f"{cur} {ln}" if cur else ln
        if len(ln) < 0.6 * wide or (_END.search(ln) and len(ln) < 0.8 * wide):
            paras.append(cur)
            cur = ""
    if cur:
        paras.append(cur)
    return "\n\n".join(paras)


def _join(pages: list[str]) -> tuple[str, list[int]]:
    """The body (pages separated by a blank line) and the offset where each page starts."""
    parts: list[str] = []
    starts: list[int] = []
    pos = 0
    for p in pages:
        p = p.strip()
        if pos and p:
            parts.append("\n\n")
            pos += 2
        starts.append(pos)
        parts.append(p)
        pos += len(p)
    return "".join(parts), starts
