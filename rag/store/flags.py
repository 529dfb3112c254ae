"""Suspected instructions kept with an index generation (issue 19; rag.injection finds them).

In chunks.sqlite, table `flags`: one row per flagged sentence of a document (doc_id,
start, end, score, reason; document coordinates), written at commit; the manifest says
which detector made them: `"injection": {"detector": "1", "flagged": n}`.

Back compatibility: a generation written before this table existed, or by another
detector version, still opens; its flags are computed from the stored text when a
document is first read (a regex pass over its sentences), and the next commit stores
them. The format version stays 3: older code ignores the extra table.

What it does not do: decide what is flagged (rag.injection) or filter anything.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rag.injection import DETECTOR_VERSION, Flag, scan
from rag.types import Chunk

SCHEMA = """
CREATE TABLE flags (
    doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, score REAL NOT NULL,
    reason TEXT NOT NULL
);
"""


def insert(db: sqlite3.Connection, doc_id: str, flags: Iterable[Sequence[Any]]) -> int:
    rows = [(doc_id, f[0], f[1], f[2], f[3]) for f in flags]
    db.executemany("INSERT INTO flags VALUES (?,?,?,?,?)", rows)
    return len(rows)


def manifest_entry(n_flagged: int) -> dict[str, Any]:
    return {"detector": DETECTOR_VERSION, "flagged": n_flagged}


def stored(db: sqlite3.Connection, manifest: dict[str, Any]) -> dict[str, list[Flag]] | None:
    """Every document's stored flags, or None when they must be computed (see above)."""
    if manifest.get("injection", {}).get("detector") != DETECTOR_VERSION:
        return None
    out: dict[str, list[Flag]] = {}
    for d, *f in db.execute('SELECT doc_id, start, "end", score, reason FROM flags'):
        out.setdefault(d, []).append(Flag(*f))
    for fs in out.values():
        fs.sort()
    return out


def compute(text: str, chunks: Iterable[Chunk]) -> list[Flag]:
    """A document's flags from its text and its chunks' sentence spans."""
    return scan(text, sorted({s for c in chunks for s in c.sentences}))


def attach(chunks: list[Chunk], flags_of: Callable[[str], list[Flag]]) -> list[Chunk]:
    """Give each chunk the flags of its document that overlap it."""
    for c in chunks:
        c.flags = [f for f in flags_of(c.doc_id) if f.start < c.end and c.start < f.end]
    return chunks
