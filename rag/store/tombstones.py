"""What the documents deleted from a segment contributed to the index's statistics.

A generation records, per segment, the documents deleted from it since it was written
(the manifest's `deleted`), and in `tombstones/<segment>.json` what their chunks and
sentences had added to the BM25 statistics (passages, total length, document frequency
of each term). Statistics subtract them, so an index with tombstones scores exactly like
the same documents written at once; a merge drops both. A commit computes them from the
deleted documents alone (their rows are read back and tokenised again): its cost is what
it deletes.

What it does not do: decide which rows are live (rag.store.seg_reader).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.store.seg_reader import Segment

FOLDER = "tombstones"


def empty() -> dict[str, Any]:
    return {
        "chunks": {"rows": 0, "length": 0, "df": {}},
        "sentences": {"rows": 0, "length": 0, "df": {}},
    }


def read(gen_dir: Path, segment: str) -> dict[str, Any]:
    """The tombstone statistics of a segment in a generation (empty when it has none)."""
    f = gen_dir / FOLDER / f"{segment}.json"
    if not f.is_file():
        return empty()
    out: dict[str, Any] = json.loads(f.read_text(encoding="utf-8"))
    return out


def write(gen_dir: Path, segment: str, stats: dict[str, Any]) -> Path:
    folder = gen_dir / FOLDER
    folder.mkdir(exist_ok=True)
    f = folder / f"{segment}.json"
    f.write_text(json.dumps(stats, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    return f


def add(stats: dict[str, Any], seg: Segment, doc_ids: Iterable[str], *, header: bool) -> None:
    """Add what these documents' rows in `seg` contribute to the statistics."""
    from rag.chunking import header_text
    from rag.text import terms

    docs = seg.docs_any()
    for doc_id in doc_ids:
        meta = docs.get(doc_id)
        if meta is None:
            continue
        head = terms(header_text(meta)) if header else []
        text = seg.doc_text(doc_id) or ""
        for _, c in seg.chunks_where("WHERE doc_id = ?", (doc_id,)):
            _count(stats["chunks"], head + terms(c.text))
            for a, b in c.sentences:
                _count(stats["sentences"], terms(text[a:b]))


def _count(part: dict[str, Any], toks: list[str]) -> None:
    part["rows"] += 1
    part["length"] += len(toks)
    df: dict[str, int] = part["df"]
    for t in Counter(toks):
        df[t] = df.get(t, 0) + 1
