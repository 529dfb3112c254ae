"""Reading one generation: `StoredIndex`, its segments side by side as one index.

A generation is a list of segments (rag.store.segment), each with the documents deleted
from it since it was written. Global chunk rows are the live rows of the segments in
order; the vectors, the sentence vectors, FAISS and BM25 are read through views over the
segments (rag.store.views) and chunk rows from each segment's SQLite on demand.

Every read that finds damage (SQLite's "database disk image is malformed", an unreadable
row, a FAISS or NumPy file that will not load) raises `IndexCorruptError` naming the
index, the file and the fix; other errors are bugs and keep their traceback.

What it does not do: find and check the live generation (rag.store.opening), write
(rag.store.writer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.store import flags
from rag.store.seg_reader import IVF_NPROBE, Segment
from rag.types import Chunk, DocMeta

if TYPE_CHECKING:
    import numpy as np

    from rag.injection import Flag
    from rag.store.views import GlobalLexical

__all__ = ["IVF_NPROBE", "ChunkTable", "StoredIndex"]


@dataclass
class StoredIndex:
    """One generation, opened read-only. Chunk rows are read on demand from SQLite."""

    dir: Path
    generation: str
    manifest: dict[str, Any]
    segments: list[Segment]
    _docs: dict[str, DocMeta] | None = field(default=None, repr=False)
    _doc_seg: dict[str, int] | None = field(default=None, repr=False)
    _vectors: Any = field(default=None, repr=False)
    _sent: Any = field(default=None, repr=False)
    _faiss: Any = field(default=None, repr=False)
    _lexical: Any = field(default=None, repr=False)
    _table: ChunkTable | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import numpy as np

        # global row of each local row (-1: deleted), and segment / local row of each global
        self.global_of: list[np.ndarray] = []
        segs, locs = [], []
        offset = 0
        for i, s in enumerate(self.segments):
            live = s.live
            g = np.where(live, np.cumsum(live) - 1 + offset, -1).astype(np.int64)
            self.global_of.append(g)
            rows = np.flatnonzero(live)
            segs.append(np.full(len(rows), i, dtype=np.int32))
            locs.append(rows.astype(np.int64))
            offset += len(rows)
        self.row_segment = np.concatenate(segs) if segs else np.zeros(0, np.int32)
        self.row_local = np.concatenate(locs) if locs else np.zeros(0, np.int64)
        sizes = [len(s.sent_vectors) if s.sent_vectors is not None else 0 for s in self.segments]
        self.sentence_offset = np.cumsum([0, *sizes]).astype(np.int64)

    # ------------------------------------------------------------------ shape
    @property
    def n_chunks(self) -> int:
        return len(self.row_local)

    @property
    def dim(self) -> int:
        return int(self.manifest["embedding"]["dim"])

    @property
    def path(self) -> Path:
        return self.dir / self.generation

    def _single(self) -> Segment | None:
        """The only segment, when there is one and nothing was deleted from it."""
        if len(self.segments) == 1 and self.segments[0].all_live:
            return self.segments[0]
        return None

    @property
    def vectors(self) -> np.ndarray:
        """(chunks, dim) float32 over the global rows (a copy when there are several
        segments or deletions; search uses `faiss_index` at scale)."""
        if self._vectors is None:
            import numpy as np

            one = self._single()
            if one is not None:
                self._vectors = one.vectors
            else:
                parts = [s.vectors[s.live] if s.deleted else s.vectors for s in self.segments]
                self._vectors = (
                    np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
                )
        return self._vectors  # type: ignore[no-any-return]

    @property
    def sent_vectors(self) -> Any:
        """Every segment's sentence vectors, stacked (rows from ChunkTable.sent_row)."""
        if self._sent is None:
            import numpy as np

            from rag.store.views import Stacked

            have = [s.sent_vectors for s in self.segments if s.sent_vectors is not None]
            if not have:
                return None
            if len(self.segments) == 1:
                self._sent = have[0]
            else:
                empty = np.zeros((0, self.dim), np.float16)
                parts = [
                    s.sent_vectors if s.sent_vectors is not None else empty for s in self.segments
                ]
                self._sent = Stacked(parts, self.dim, np.float16)
        return self._sent

    def faiss_index(self) -> Any:
        """Exact search over the vectors for an index up to `exact_up_to` chunks; above,
        every segment's own index searched and the results merged."""
        if self._faiss is None:
            import faiss
            import numpy as np

            faiss.omp_set_num_threads(1)  # one query at a time: threads only add waiting
            if self.manifest.get("faiss", {}).get("type", "flat") == "flat":
                idx = faiss.IndexFlatIP(self.dim)
                if self.n_chunks:
                    idx.add(np.ascontiguousarray(self.vectors, dtype=np.float32))
                self._faiss = idx
            else:
                from rag.store.views import SegmentedFaiss

                self._faiss = SegmentedFaiss(self.segments, self.global_of)
        return self._faiss

    def lexical(self) -> tuple[GlobalLexical, GlobalLexical, np.ndarray] | None:
        """BM25 over chunks, BM25 over sentences and each sentence's chunk row."""
        if self._lexical is None:
            import numpy as np

            from rag.store.views import GlobalLexical

            if not self.segments:
                return None
            owners, keep_sent = [], []
            for s, g in zip(self.segments, self.global_of, strict=True):
                own = g[s.sentence_owner()] if s.n else np.zeros(0, np.int64)
                keep = None if s.all_live else own >= 0
                owners.append(own if keep is None else own[keep])
                keep_sent.append(keep)
            keep_chunks = [None if s.all_live else s.live for s in self.segments]
            self._lexical = (
                GlobalLexical(self.segments, "chunks", keep_chunks),
                GlobalLexical(self.segments, "sentences", keep_sent),
                np.concatenate(owners) if owners else np.zeros(0, np.int64),
            )
        return self._lexical  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ documents
    def _doc_segments(self) -> dict[str, int]:
        if self._doc_seg is None:
            out: dict[str, int] = {}
            for i, s in enumerate(self.segments):
                out.update(dict.fromkeys(s.docs(), i))
            self._doc_seg = out
        return self._doc_seg

    def _segment_of(self, doc_id: str) -> Segment | None:
        i = self._doc_segments().get(doc_id)
        return None if i is None else self.segments[i]

    def docs(self) -> dict[str, DocMeta]:
        if self._docs is None:
            merged: dict[str, DocMeta] = {}
            for s in self.segments:
                merged.update(s.docs())
            self._docs = dict(sorted(merged.items()))
        return self._docs

    def documents(self) -> dict[str, dict[str, Any]]:
        """Per live document: its content hash, origin, chunk count and time of update."""
        out: dict[str, dict[str, Any]] = {}
        for s in self.segments:
            out.update(s.records())
        return out

    def record(self, doc_id: str) -> dict[str, Any] | None:
        """One live document's hash, origin, chunk count and time of update."""
        s = self._segment_of(doc_id)
        return None if s is None else s.records([doc_id]).get(doc_id)

    def doc_rows(self) -> list[dict[str, Any]]:
        """id, title, source, published_at, chunks for every document (for `rag docs`)."""
        rows = sorted(r for s in self.segments for r in s.doc_rows())
        return [
            {
                "id": r[0],
                "title": r[1],
                "source": r[2],
                "published_at": r[3],
                "chunks": r[4],
                "flagged": len(self.flags_of(r[0])),
            }
            for r in rows
        ]

    def flags_of(self, doc_id: str) -> list[Flag]:
        """The document's sentences suspected of being instructions to AI (rag.store.flags)."""
        s = self._segment_of(doc_id)
        if s is None:
            return []
        return s.flags_of(
            doc_id, lambda: [c for _, c in s.chunks_where("WHERE doc_id = ?", (doc_id,))]
        )

    def doc_text(self, doc_id: str) -> str | None:
        s = self._segment_of(doc_id)
        return None if s is None else s.doc_text(doc_id)

    # ------------------------------------------------------------------ chunks
    def chunks_at(self, positions: Sequence[int]) -> list[Chunk]:
        """Chunks by global row, in the order asked."""
        pos = [int(p) for p in positions]
        if not pos:
            return []
        found: dict[int, Chunk] = {}
        for i, rows in self._by_segment(pos).items():
            seg, g = self.segments[i], self.global_of[i]
            found.update((int(g[loc]), c) for loc, c in seg.chunks_at(self.row_local[rows]).items())
        missing = [p for p in pos if p not in found]
        if missing:
            raise self._damaged(f"lacks chunk rows {missing[:5]}")
        return flags.attach([found[p] for p in pos], self.flags_of)

    def sentence_vectors_at(self, positions: Sequence[int]) -> list[np.ndarray | None]:
        """Per chunk (by global row), the vectors of its sentences, or None if not stored."""
        pos = [int(p) for p in positions]
        out: dict[int, np.ndarray | None] = {}
        for i, rows in self._by_segment(pos).items():
            seg = self.segments[i]
            local = self.row_local[rows]
            spans = seg.sentence_spans(local) if seg.sent_vectors is not None else {}
            for p, loc in zip(rows, local, strict=True):
                row, n = spans.get(int(loc), (-1, 0))
                sv = seg.sent_vectors
                out[int(p)] = None if row < 0 or sv is None else sv[row : row + n]
        return [out.get(p) for p in pos]

    def chunks_of(self, doc_id: str, *, with_flags: bool = True) -> list[tuple[int, Chunk]]:
        i = self._doc_segments().get(doc_id)
        if i is None:
            return []
        seg, g = self.segments[i], self.global_of[i]
        rows = seg.chunks_where("WHERE doc_id = ?", (doc_id,))
        chunks = [c for _, c in rows]
        if with_flags:
            flags.attach(chunks, self.flags_of)
        return [(int(g[p]), c) for (p, _), c in zip(rows, chunks, strict=True)]

    def all_chunks(self) -> list[Chunk]:
        out: list[Chunk] = []
        for s in self.segments:
            live = s.live
            out += [c for p, c in s.chunks_where() if live[p]]
        return flags.attach(out, self.flags_of)

    def table(self) -> ChunkTable:
        """Per chunk row: its document, source, day and time of publication, place."""
        if self._table is None:
            rows: list[tuple[Any, ...]] = []
            for s, off in zip(self.segments, self.sentence_offset, strict=False):
                live = s.live
                rows += [
                    (d, r + int(off) if r >= 0 else -1, n)
                    for p, (d, r, n) in enumerate(s.chunk_rows())
                    if live[p]
                ]
            try:
                self._table = ChunkTable.from_rows(rows, self.docs())
            except KeyError as e:
                raise self.segments[0].db.damaged(e, f"a chunk of unknown document {e}") from None
        return self._table

    def close(self) -> None:
        for s in self.segments:
            s.close()

    def _by_segment(self, pos: Sequence[int]) -> dict[int, np.ndarray]:
        import numpy as np

        p = np.asarray(pos, dtype=np.int64)
        if len(p) and (p.min() < 0 or p.max() >= self.n_chunks):
            raise IndexError(f"chunk rows out of range: {p[(p < 0) | (p >= self.n_chunks)][:5]}")
        seg = self.row_segment[p]
        return {int(i): p[seg == i] for i in np.unique(seg)}

    def _damaged(self, problem: str) -> Exception:
        from rag.store.integrity import Damage, corrupt_error

        names = ", ".join(f"{s.name}/chunks.sqlite" for s in self.segments[:1])
        return corrupt_error(self.dir, [Damage(self.generation, names, problem)])


@dataclass
class ChunkTable:
    """Metadata of every chunk row as arrays, for filters, boosts and features."""

    doc: np.ndarray  # document number per chunk row
    doc_ids: list[str]  # document id per document number
    source: np.ndarray  # source number per chunk row (-1: none)
    sources: list[str]
    day: np.ndarray  # proleptic ordinal of the publication date (-1: undated)
    time: list[str]  # "HH:MM:SS" of publication ("" when not given)
    place: np.ndarray  # 0 for a document's first chunk, 1 for its second...
    sent_row: np.ndarray  # first row of the chunk's sentences in sentences.npy (-1: none)
    n_sent: np.ndarray  # number of sentences of the chunk

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Any, ...]], docs: dict[str, DocMeta]) -> ChunkTable:
        """From (doc_id, sentence row, sentence count) per chunk row, in row order."""
        import numpy as np

        doc_ids = sorted(docs)
        number = {d: i for i, d in enumerate(doc_ids)}
        sources = sorted({m.source for m in docs.values() if m.source})
        src_no = {s: i for i, s in enumerate(sources)}
        doc = np.array([number[r[0]] for r in rows], dtype=np.int64)
        sent_row = np.array([r[1] for r in rows], dtype=np.int64)
        n_sent = np.array([r[2] if r[1] >= 0 else 0 for r in rows], dtype=np.int64)
        meta = [docs[d] for d in doc_ids]
        doc_source = np.array([src_no.get(m.source or "", -1) for m in meta] + [-1])
        doc_day = np.array([_day(m.published_at) for m in meta] + [-1])
        doc_time = [(m.published_at or "")[11:19] for m in meta]
        first = np.zeros(len(doc_ids) + 1, dtype=np.int64)
        place = np.zeros(len(doc), dtype=np.int64)
        if len(doc):
            starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
            first[doc[starts]] = starts
            place = np.arange(len(doc)) - first[doc]
        return cls(
            doc=doc,
            doc_ids=doc_ids,
            source=doc_source[doc] if len(doc) else doc,
            sources=sources,
            day=doc_day[doc] if len(doc) else doc,
            time=[doc_time[i] for i in doc],
            place=place,
            sent_row=sent_row,
            n_sent=n_sent,
        )


def _day(published_at: str | None) -> int:
    from datetime import date

    try:
        return date.fromisoformat((published_at or "")[:10]).toordinal()
    except ValueError:
        return -1
