"""Reading one generation: `open_index` and `StoredIndex` (chunk rows read on demand).

What it does not do: write, verify checksums or repair (rag.store.writer, rag.store.verify).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.store import flags
from rag.store.layout import FORMAT_VERSION, current_generation
from rag.types import Chunk, DocMeta

if TYPE_CHECKING:
    import numpy as np

    from rag.injection import Flag
    from rag.lexical import LexicalIndex

IVF_NPROBE = 16


@dataclass
class StoredIndex:
    """One generation, opened read-only. Chunk rows are read on demand from SQLite."""

    dir: Path
    generation: str
    manifest: dict[str, Any]
    vectors: np.ndarray
    _db: sqlite3.Connection = field(repr=False)
    sent_vectors: np.ndarray | None = field(default=None, repr=False)
    _faiss: Any = field(default=None, repr=False)
    _docs: dict[str, DocMeta] | None = field(default=None, repr=False)
    _lexical: Any = field(default=None, repr=False)
    _table: ChunkTable | None = field(default=None, repr=False)
    _flags: dict[str, list[Flag]] | None = field(default=None, repr=False)

    @property
    def n_chunks(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.manifest["embedding"]["dim"])

    @property
    def path(self) -> Path:
        return self.dir / self.generation

    def faiss_index(self) -> Any:
        """The FAISS index over the vectors (built from them when it is flat)."""
        if self._faiss is None:
            import faiss

            f = self.path / "index.faiss"
            if f.is_file():
                idx = faiss.read_index(str(f))
                idx.nprobe = int(self.manifest["faiss"].get("nprobe", IVF_NPROBE))
                faiss.omp_set_num_threads(1)  # one query at a time: threads only add waiting
                self._faiss = idx
            else:
                idx = faiss.IndexFlatIP(self.dim)
                if self.n_chunks:
                    idx.add(self.vectors)
                self._faiss = idx
        return self._faiss

    def docs(self) -> dict[str, DocMeta]:
        if self._docs is None:
            rows = self._db.execute(
                "SELECT id, title, source, url, published_at, origin, extra FROM docs ORDER BY id"
            ).fetchall()
            self._docs = {
                r[0]: DocMeta(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows
            }
        return self._docs

    def doc_rows(self) -> list[dict[str, Any]]:
        """id, title, source, published_at, chunks for every document (for `rag docs`)."""
        rows = self._db.execute(
            "SELECT id, title, source, published_at, n_chunks FROM docs ORDER BY id"
        ).fetchall()
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
        if self._flags is None:
            kept = flags.stored(self._db, self.manifest)
            self._flags = {} if kept is None else {d: kept.get(d, []) for d in self.docs()}
        if doc_id not in self._flags:  # a generation from before flags: compute them
            chunks = [c for _, c in self.chunks_of(doc_id, with_flags=False)]
            self._flags[doc_id] = flags.compute(self.doc_text(doc_id) or "", chunks)
        return self._flags[doc_id]

    def doc_text(self, doc_id: str) -> str | None:
        row = self._db.execute("SELECT text FROM docs WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def chunks_at(self, positions: Sequence[int]) -> list[Chunk]:
        """Chunks by vector row, in the order asked."""
        pos = [int(p) for p in positions]
        if not pos:
            return []
        marks = ",".join("?" * len(pos))
        rows = self._db.execute(
            f'SELECT pos, id, doc_id, start, "end", text, sentences FROM chunks '
            f"WHERE pos IN ({marks})",
            pos,
        ).fetchall()
        by_pos = {r[0]: _chunk(r) for r in rows}
        missing = [p for p in pos if p not in by_pos]
        if missing:
            raise IndexCorruptError(
                f"index {self.dir}: chunk rows {missing[:5]} are missing; run "
                "`rag ingest --rebuild`"
            )
        return flags.attach([by_pos[p] for p in pos], self.flags_of)

    def sentence_vectors_at(self, positions: Sequence[int]) -> list[np.ndarray | None]:
        """Per chunk (by vector row), the vectors of its sentences, or None if not stored."""
        if self.sent_vectors is None or not positions:
            return [None] * len(positions)
        pos = [int(p) for p in positions]
        marks = ",".join("?" * len(pos))
        rows = self._db.execute(
            "SELECT pos, sent_row, json_array_length(sentences) FROM chunks "
            f"WHERE pos IN ({marks})",
            pos,
        ).fetchall()
        span = {r[0]: (r[1], r[2]) for r in rows}
        out: list[np.ndarray | None] = []
        for p in pos:
            row, n = span.get(p, (-1, 0))
            out.append(None if row < 0 else self.sent_vectors[row : row + n])
        return out

    def chunks_of(self, doc_id: str, *, with_flags: bool = True) -> list[tuple[int, Chunk]]:
        rows = self._db.execute(
            'SELECT pos, id, doc_id, start, "end", text, sentences FROM chunks '
            "WHERE doc_id = ? ORDER BY pos",
            (doc_id,),
        ).fetchall()
        chunks = [_chunk(r) for r in rows]
        if with_flags:
            flags.attach(chunks, self.flags_of)
        return [(r[0], c) for r, c in zip(rows, chunks, strict=True)]

    def all_chunks(self) -> list[Chunk]:
        rows = self._db.execute(
            'SELECT pos, id, doc_id, start, "end", text, sentences FROM chunks ORDER BY pos'
        ).fetchall()
        return flags.attach([_chunk(r) for r in rows], self.flags_of)

    def lexical(self) -> tuple[LexicalIndex, LexicalIndex, np.ndarray] | None:
        """BM25 over chunks, BM25 over sentences and each sentence's chunk row."""
        if self._lexical is None:
            import numpy as np

            from rag.lexical import LexicalIndex

            folder = self.path / "lexical"
            if not (folder / "chunks").is_dir():
                return None
            owner = np.load(folder / "sentence_owner.npy", mmap_mode="r")
            self._lexical = (
                LexicalIndex(folder / "chunks"),
                LexicalIndex(folder / "sentences"),
                owner,
            )
        return self._lexical

    def table(self) -> ChunkTable:
        """Per chunk row: its document, source, day and time of publication, place."""
        if self._table is None:
            self._table = ChunkTable.load(self._db, self.docs())
        return self._table

    def close(self) -> None:
        self._db.close()


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
    def load(cls, db: sqlite3.Connection, docs: dict[str, DocMeta]) -> ChunkTable:
        import numpy as np

        doc_ids = sorted(docs)
        number = {d: i for i, d in enumerate(doc_ids)}
        sources = sorted({m.source for m in docs.values() if m.source})
        src_no = {s: i for i, s in enumerate(sources)}
        rows = db.execute(
            "SELECT doc_id, sent_row, json_array_length(sentences) FROM chunks ORDER BY pos"
        ).fetchall()
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


def _chunk(r: Sequence[Any]) -> Chunk:
    return Chunk(
        id=r[1],
        doc_id=r[2],
        start=r[3],
        end=r[4],
        text=r[5],
        sentences=[(a, b) for a, b in json.loads(r[6])],
    )


def open_index(index_dir: Path) -> StoredIndex:
    """Open the live generation of an index folder, read-only.

    Retries once if a writer swapped generations while we were opening.
    """
    index_dir = Path(index_dir)
    for attempt in range(3):
        gen = current_generation(index_dir)
        if gen is None:
            raise IndexNotFoundError(
                f"no index at {index_dir}; build it with `rag ingest` (or `rag ingest PATH "
                f"--index {index_dir}`)"
            )
        try:
            return _open_generation(index_dir, gen)
        except FileNotFoundError:
            if attempt == 2:
                raise IndexCorruptError(
                    f"index {index_dir}: generation {gen} is incomplete; run `rag ingest --rebuild`"
                ) from None
            time.sleep(0.05)
    raise AssertionError("unreachable")


def _open_generation(index_dir: Path, gen: str) -> StoredIndex:
    import numpy as np

    path = index_dir / gen
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise IndexCorruptError(
            f"index {index_dir}: manifest unreadable ({e}); run `rag ingest --rebuild`"
        ) from None
    fmt = manifest.get("format")
    if fmt != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index {index_dir} has format {fmt}, this version reads format {FORMAT_VERSION}; "
            "run `rag ingest --rebuild`"
        )
    db_path = path / "chunks.sqlite"
    if not db_path.is_file():
        raise FileNotFoundError(db_path)
    # immutable=1: a committed generation never changes, so SQLite needs no locks or journal
    db = sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    vectors = np.load(path / "vectors.npy", mmap_mode="r")
    sents = path / "sentences.npy"
    sent_vectors = np.load(sents, mmap_mode="r") if sents.is_file() else None
    return StoredIndex(index_dir, gen, manifest, vectors, db, sent_vectors)
