"""Merging segments: which to merge (`plan`), and writing the merged one (`merge`).

Policy (log-structured, like Lucene's tiered merges): a segment's tier is
⌊log_F(max(chunks, FLOOR) / FLOOR)⌋ with F = `index.merge_factor` (10); once F segments
share a tier, they are merged into one of the next tier. So an index of n chunks has at
most about F·log_F(n / FLOOR) segments, and each chunk is rewritten about log_F(n / FLOOR)
times over its life: a commit costs what it adds, a merge of the small tiers is cheap, a
merge of the largest tier is rare. A segment that lost more than half its chunks to
deletions is rewritten on its own (to drop them). `rag index compact` merges everything.

A merge reads its sources (hard links made for it, so collecting an old generation never
pulls a file from under it), checks every byte against the manifest's checksums first
(damage is never rewritten under fresh checksums), drops the rows of deleted documents
and writes one segment: SQLite rows renumbered, vectors, sentence vectors, BM25 postings
merged (rag.store.postings), FAISS trained again when large.

What it does not do: publish (rag.store.writer swaps the merged segment in).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.store import flags
from rag.store.integrity import Damage, _check_recorded, corrupt_error
from rag.store.layout import open_npy, save_npy
from rag.store.segment import DOC_COLUMNS, SCHEMA, build_faiss

FLOOR = 1000  # chunks: segments below this are all in the first tier
_BLOCK = 200_000  # rows copied at a time


def tier(chunks: int, factor: int) -> int:
    return int(math.log(max(chunks, FLOOR) / FLOOR, max(factor, 2)))


def plan(segments: Sequence[dict[str, Any]], factor: int) -> list[str]:
    """Names of the segments to merge next ([] when none need it)."""
    if factor < 2:
        return []
    for m in segments:  # mostly deleted: rewrite it alone
        if m["chunks"] and m.get("deleted_chunks", 0) * 2 > m["chunks"]:
            return [m["name"]]
        if m["documents"] and len(m.get("deleted", [])) >= m["documents"]:
            return [m["name"]]
    tiers: dict[int, list[str]] = {}
    for m in segments:
        tiers.setdefault(tier(m["chunks"] - m.get("deleted_chunks", 0), factor), []).append(
            m["name"]
        )
    for t in sorted(tiers):
        if len(tiers[t]) >= factor:
            return tiers[t][:factor]
    return []


@dataclass
class Source:
    """A segment to merge: where its files are, its record, its files' records."""

    path: Path
    meta: dict[str, Any]
    files: dict[str, dict[str, Any]]  # relative to the segment folder


def merge(
    sources: Sequence[Source],
    out: Path,
    *,
    index_dir: Path,
    generation: str,
    exact_up_to: int,
    dim: int,
    cancelled: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Write the live rows of `sources`, in order, as one segment in `out` (its name is
    the folder's); returns its record. Raises IndexCorruptError for a damaged source."""
    import numpy as np

    from rag.injection import DETECTOR_VERSION
    from rag.store import postings
    from rag.store.seg_reader import Segment

    for s in sources:  # every byte checked before it is rewritten
        for rel, entry in sorted(s.files.items()):
            bad = _check_recorded(s.path / rel, entry, full=True)
            if bad:
                name = f"{s.meta['name']}/{rel}"
                raise corrupt_error(index_dir, [Damage(generation, name, bad)])
    segs = [Segment(s.path.parent.parent, s.path.parent.name, s.meta) for s in sources]
    try:
        out.mkdir(parents=True)
        keep_rows = [s.live for s in segs]
        n = int(sum(k.sum() for k in keep_rows))
        # ---- chunk rows: local rows renumbered, sentence rows too
        sent_keep, new_sent_row = [], []
        sent_base = 0
        for s, k in zip(segs, keep_rows, strict=True):
            rows = s.chunk_rows()
            first = np.fromiter((r[1] for r in rows), np.int64, len(rows))
            count = np.fromiter((r[2] for r in rows), np.int64, len(rows))
            has = k & (first >= 0)
            width = np.where(has, count, 0)
            new_sent_row.append(np.where(has, sent_base + np.cumsum(width) - width, -1))
            keep_s = np.zeros(len(s.sent_vectors) if s.sent_vectors is not None else 0, bool)
            for a, c in zip(first[has], count[has], strict=True):
                keep_s[a : a + c] = True
            sent_keep.append(keep_s)
            sent_base += int(width.sum())
        _merge_sqlite(segs, keep_rows, new_sent_row, out / "chunks.sqlite", DETECTOR_VERSION)
        if cancelled():
            raise _Cancelled
        # ---- vectors, sentence vectors
        vec = open_npy(out / "vectors.npy", np.float32, (n, dim))
        at = 0
        for s, k in zip(segs, keep_rows, strict=True):
            for a in range(0, s.n, _BLOCK):
                kept = np.asarray(s.vectors[a : a + _BLOCK][k[a : a + _BLOCK]], dtype=np.float32)
                vec[at : at + len(kept)] = kept
                at += len(kept)
        vec.flush()
        if sent_base:
            sv = open_npy(out / "sentences.npy", np.float16, (sent_base, dim))
            at = 0
            for s, k in zip(segs, sent_keep, strict=True):
                if s.sent_vectors is None:
                    continue
                for a in range(0, len(k), _BLOCK * 4):
                    kept = np.asarray(s.sent_vectors[a : a + _BLOCK * 4][k[a : a + _BLOCK * 4]])
                    sv[at : at + len(kept)] = kept
                    at += len(kept)
            sv.flush()
            del sv
        if cancelled():
            raise _Cancelled
        # ---- BM25 postings and each sentence's owner
        lex = out / "lexical"
        chunk_stats = postings.merge(
            [s.postings("chunks") for s in segs], keep_rows, lex / "chunks"
        )
        owners = [s.sentence_owner() for s in segs]
        keep_lex = [k[o] for k, o in zip(keep_rows, owners, strict=True)]
        sent_stats = postings.merge(
            [s.postings("sentences") for s in segs], keep_lex, lex / "sentences"
        )
        new_owner, base = [], 0
        for k, o, kl in zip(keep_rows, owners, keep_lex, strict=True):
            renumber = np.cumsum(k) - 1 + base
            new_owner.append(renumber[o[kl]])
            base += int(k.sum())
        save_npy(
            lex / "sentence_owner.npy",
            np.concatenate(new_owner).astype(np.int32) if new_owner else np.zeros(0, np.int32),
        )
        if cancelled():
            raise _Cancelled
        faiss_meta = build_faiss(vec, out / "index.faiss", exact_up_to)
        del vec
        con = sqlite3.connect(out / "chunks.sqlite")
        try:
            n_docs = int(con.execute("SELECT COUNT(*) FROM docs").fetchone()[0])
            n_flags = int(con.execute("SELECT COUNT(*) FROM flags").fetchone()[0])
        finally:
            con.close()
        return {
            "name": out.name,
            "chunks": n,
            "sentences": sent_base,
            "documents": n_docs,
            "flagged": n_flags,
            "injection": {"detector": DETECTOR_VERSION},
            "lexical": {"chunks": chunk_stats, "sentences": sent_stats},
            "faiss": faiss_meta,
            "deleted": [],
            "deleted_chunks": 0,
        }
    finally:
        for s in segs:
            s.close()


class _Cancelled(Exception):
    """The writer stopped the merge (its ingest failed or was interrupted)."""


def _merge_sqlite(
    segs: Sequence[Any],
    keep_rows: Sequence[Any],
    new_sent_row: Sequence[Any],
    path: Path,
    detector: str,
) -> None:
    import numpy as np

    con = sqlite3.connect(f"file:{path}", uri=True)  # URIs, for ATTACH … ?mode=ro
    try:
        con.executescript(SCHEMA + flags.SCHEMA)
        base = 0
        for i, (s, k, sent) in enumerate(zip(segs, keep_rows, new_sent_row, strict=True)):
            con.execute(
                f"ATTACH DATABASE ? AS src{i}",
                (f"file:{s.path / 'chunks.sqlite'}?mode=ro&immutable=1",),
            )
            con.execute(
                "CREATE TEMP TABLE IF NOT EXISTS map "
                "(old INTEGER PRIMARY KEY, new INTEGER, sent INTEGER)"
            )
            con.execute("CREATE TEMP TABLE IF NOT EXISTS gone (id TEXT PRIMARY KEY)")
            con.execute("DELETE FROM map")
            con.execute("DELETE FROM gone")
            old = np.flatnonzero(k)
            new = np.arange(len(old)) + base
            con.executemany(
                "INSERT INTO map VALUES (?,?,?)",
                zip(old.tolist(), new.tolist(), np.asarray(sent)[old].tolist(), strict=True),
            )
            con.executemany("INSERT INTO gone VALUES (?)", [(d,) for d in sorted(s.deleted)])
            con.execute(
                f"INSERT INTO docs ({DOC_COLUMNS}) SELECT {DOC_COLUMNS} FROM src{i}.docs "
                "WHERE id NOT IN (SELECT id FROM gone) ORDER BY id"
            )
            con.execute(
                f'INSERT INTO chunks SELECT m.new, c.id, c.doc_id, c.start, c."end", c.text, '
                f"c.sentences, m.sent FROM src{i}.chunks c JOIN map m ON m.old = c.pos "
                "ORDER BY m.new"
            )
            if s.meta.get("injection", {}).get("detector") == detector:
                con.execute(
                    f"INSERT INTO flags SELECT * FROM src{i}.flags "
                    "WHERE doc_id NOT IN (SELECT id FROM gone)"
                )
            else:  # written by another detector version: computed again now
                for doc_id in s.docs():
                    chunks = [c for _, c in s.chunks_where("WHERE doc_id = ?", (doc_id,))]
                    flags.insert(con, doc_id, flags.compute(s.doc_text(doc_id) or "", chunks))
            con.commit()
            con.execute(f"DETACH DATABASE src{i}")
            base += len(old)
        con.commit()
    finally:
        con.close()
