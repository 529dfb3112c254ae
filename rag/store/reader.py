"""Reading one generation: `StoredIndex` (chunk rows read on demand from SQLite).

Every read at this boundary that finds damage (SQLite's "database disk image is
malformed", an unreadable row, a FAISS or NumPy file that will not load) raises
`IndexCorruptError` naming the index, the file and the fix; other errors are bugs and
keep their traceback.

What it does not do: find and check the live generation (rag.store.opening), write
(rag.store.writer).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError
from rag.store import flags
from rag.store.integrity import Damage, corrupt_error
from rag.types import Chunk, DocMeta

if TYPE_CHECKING:
    import numpy as np

    from rag.injection import Flag
    from rag.lexical import LexicalIndex

IVF_NPROBE = 16
# SQLite result codes that mean a damaged or vanished file (IOERR, CORRUPT, CANTOPEN, NOTADB)
_DAMAGE_CODES = {10, 11, 14, 26}


class GuardedDB:
    """A generation's read-only SQLite connection whose reads turn damage into
    `IndexCorruptError` (SQLite may find a damaged page only when a query reaches it)."""

    def __init__(self, con: sqlite3.Connection, index_dir: Path, generation: str) -> None:
        self.con, self.index_dir, self.generation = con, index_dir, generation

    def damaged(self, e: BaseException, what: str = "") -> BaseException:
        """The IndexCorruptError for an error raised by a read, or `e` itself if it is no
        sign of damage (a bug)."""
        if isinstance(e, sqlite3.DatabaseError):
            code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
            if code not in _DAMAGE_CODES and "malformed" not in str(e):
                return e
        elif not isinstance(e, ValueError | KeyError | IndexError | TypeError):
            return e
        why = what or " ".join(str(e).split())[:100]
        problem = f"is unreadable ({why})"
        return corrupt_error(self.index_dir, [Damage(self.generation, "chunks.sqlite", problem)])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _GuardedCursor:
        try:
            return _GuardedCursor(self.con.execute(sql, params), self)
        except sqlite3.DatabaseError as e:
            raise self.damaged(e) from None

    def close(self) -> None:
        self.con.close()


class _GuardedCursor:
    def __init__(self, cur: sqlite3.Cursor, db: GuardedDB) -> None:
        self.cur, self.db = cur, db

    def fetchall(self) -> list[Any]:
        try:
            return self.cur.fetchall()
        except sqlite3.DatabaseError as e:
            raise self.db.damaged(e) from None

    def fetchone(self) -> Any:
        try:
            return self.cur.fetchone()
        except sqlite3.DatabaseError as e:
            raise self.db.damaged(e) from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


@dataclass
class StoredIndex:
    """One generation, opened read-only. Chunk rows are read on demand from SQLite."""

    dir: Path
    generation: str
    manifest: dict[str, Any]
    vectors: np.ndarray
    _db: GuardedDB = field(repr=False)
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
                try:
                    idx = faiss.read_index(str(f))
                except RuntimeError as e:  # how FAISS reports a short or garbled file
                    lines = str(e).strip().splitlines() or ["FAISS could not read it"]
                    raise self._damaged(
                        "index.faiss", f"is unreadable ({lines[-1][:100]})"
                    ) from None
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
            try:
                self._docs = {
                    r[0]: DocMeta(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
                    for r in rows
                }
            except ValueError as e:
                raise self._db.damaged(e, "a document row") from None
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
        by_pos = {r[0]: self._chunk(r) for r in rows}
        missing = [p for p in pos if p not in by_pos]
        if missing:
            raise self._damaged("chunks.sqlite", f"lacks chunk rows {missing[:5]}")
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
        chunks = [self._chunk(r) for r in rows]
        if with_flags:
            flags.attach(chunks, self.flags_of)
        return [(r[0], c) for r, c in zip(rows, chunks, strict=True)]

    def all_chunks(self) -> list[Chunk]:
        rows = self._db.execute(
            'SELECT pos, id, doc_id, start, "end", text, sentences FROM chunks ORDER BY pos'
        ).fetchall()
        return flags.attach([self._chunk(r) for r in rows], self.flags_of)

    def lexical(self) -> tuple[LexicalIndex, LexicalIndex, np.ndarray] | None:
        """BM25 over chunks, BM25 over sentences and each sentence's chunk row."""
        if self._lexical is None:
            import numpy as np

            from rag.lexical import LexicalIndex

            folder = self.path / "lexical"
            if not (folder / "chunks").is_dir():
                return None
            try:
                owner = np.load(folder / "sentence_owner.npy", mmap_mode="r")
                self._lexical = (
                    LexicalIndex(folder / "chunks"),
                    LexicalIndex(folder / "sentences"),
                    owner,
                )
            except (OSError, ValueError, KeyError) as e:
                where = getattr(e, "filename", None)
                rel = Path(where).relative_to(self.path).as_posix() if where else "lexical"
                raise self._damaged(rel, f"is unreadable ({_why(e)})") from None
        return self._lexical

    def table(self) -> ChunkTable:
        """Per chunk row: its document, source, day and time of publication, place."""
        if self._table is None:
            docs = self.docs()
            try:
                self._table = ChunkTable.load(self._db, docs)
            except KeyError as e:
                raise self._db.damaged(e, f"a chunk of unknown document {e}") from None
        return self._table

    def close(self) -> None:
        self._db.close()

    def _chunk(self, r: Sequence[Any]) -> Chunk:
        try:
            return _chunk(r)
        except (ValueError, TypeError) as e:
            raise self._db.damaged(e, f"chunk row {r[0]}") from None

    def _damaged(self, file: str, problem: str) -> IndexCorruptError:
        return corrupt_error(self.dir, [Damage(self.generation, file, problem)])


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
    def load(cls, db: GuardedDB | sqlite3.Connection, docs: dict[str, DocMeta]) -> ChunkTable:
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


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return " ".join(str(e).split())[:100] or type(e).__name__
