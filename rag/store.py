"""The index on disk: vectors, chunk table and manifest, in atomic generations.

Layout of an index folder:

    CURRENT            name of the live generation ("gen-000007"), replaced atomically
    gen-000007/        one complete, immutable snapshot
        manifest.json  format version, embedding model and dimension, chunk settings,
                       document hashes, counts, timestamps
        chunks.sqlite  documents and chunks (text, spans, sentence spans); chunk row
                       `pos` is its row in the vector matrix
        vectors.npy    float32 (n_chunks, dim), L2-normalised
        sentences.npy  float16, one vector per sentence of each chunk (late chunking: from
                       the chunk's own forward pass), rows from chunks.sent_row on
        index.faiss    only for approximate indexes; flat ones are built at load
        lexical/       BM25 over the chunks' terms (header and passage) and over their
                       sentences (rag.lexical), built at commit
    .lock              held by a writer (filelock), so two ingests never interleave

A writer builds the next generation aside (`gen-N.tmp-PID`), fsyncs it, renames it into
place and only then points CURRENT at it: a reader sees the old or the new index, never
a mix, and a killed writer leaves at worst a temporary folder the next writer removes.
The previous generation is kept so readers that opened it keep working.

What it does not do: embed, chunk or rank. `load` is the inverse of `save` (tested).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
)
from rag.types import Chunk, DocMeta, Document

if TYPE_CHECKING:
    import numpy as np

    from rag.lexical import LexicalIndex

FORMAT_VERSION = 3
CURRENT = "CURRENT"
LOCK = ".lock"
_SCHEMA = """
CREATE TABLE docs (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT, url TEXT, published_at TEXT,
    origin TEXT, extra TEXT NOT NULL, hash TEXT NOT NULL, n_chunks INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE chunks (
    pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    sentences TEXT NOT NULL, sent_row INTEGER NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
"""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --------------------------------------------------------------------------- reading


def current_generation(index_dir: Path) -> str | None:
    """Name of the live generation, or None when the folder holds no index."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None


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
            {"id": r[0], "title": r[1], "source": r[2], "published_at": r[3], "chunks": r[4]}
            for r in rows
        ]

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
        return [by_pos[p] for p in pos]

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

    def chunks_of(self, doc_id: str) -> list[tuple[int, Chunk]]:
        rows = self._db.execute(
            'SELECT pos, id, doc_id, start, "end", text, sentences FROM chunks '
            "WHERE doc_id = ? ORDER BY pos",
            (doc_id,),
        ).fetchall()
        return [(r[0], _chunk(r)) for r in rows]

    def all_chunks(self) -> list[Chunk]:
        rows = self._db.execute(
            'SELECT pos, id, doc_id, start, "end", text, sentences FROM chunks ORDER BY pos'
        ).fetchall()
        return [_chunk(r) for r in rows]

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


IVF_NPROBE = 16


def _build_faiss(vectors: np.ndarray, path: Path, exact_up_to: int) -> dict[str, Any]:
    """Nothing to build up to `exact_up_to` vectors (a flat index is made at load, exact);
    above, an inverted-file index: √n lists, 16 probed per query (recall@10 ≈ 0.98 at 1M
    synthetic vectors in bench/scale.py). Trained on at most 64 vectors per list."""
    import math

    import numpy as np

    n, dim = vectors.shape
    if n <= exact_up_to:
        return {"type": "flat"}
    import faiss

    nlist = max(1, int(math.sqrt(n)))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vectors
    if n > 64 * nlist:
        sample = vectors[np.random.default_rng(0).choice(n, 64 * nlist, replace=False)]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(path))
    return {"type": "ivf", "nlist": nlist, "nprobe": IVF_NPROBE}


def _day(published_at: str | None) -> int:
    from datetime import date

    try:
        return date.fromisoformat((published_at or "")[:10]).toordinal()
    except ValueError:
        return -1


def _build_lexical(db: sqlite3.Connection, folder: Path, *, header: bool) -> None:
    """BM25 over each chunk's terms (with its header when chunks carry one) and over
    each sentence's; rows in chunk order, so a score vector lines up with the vectors."""
    import numpy as np

    from rag.chunking import header_text
    from rag.lexical import build
    from rag.text import terms

    docs = {
        r[0]: (DocMeta(r[0], r[1], r[2], r[3], r[4]), r[5])
        for r in db.execute("SELECT id, title, source, url, published_at, text FROM docs")
    }
    heads = {d: terms(header_text(m)) if header else [] for d, (m, _) in docs.items()}
    chunk_terms: list[list[str]] = []
    sent_terms: list[list[str]] = []
    owner: list[int] = []
    rows = db.execute("SELECT pos, doc_id, text, sentences FROM chunks ORDER BY pos")
    for pos, doc_id, text, sentences in rows:
        chunk_terms.append(heads[doc_id] + terms(text))
        body = docs[doc_id][1]
        for a, b in json.loads(sentences):
            sent_terms.append(terms(body[a:b]))
            owner.append(pos)
    if not chunk_terms:
        return
    build(chunk_terms, folder / "chunks")
    build(sent_terms or [[]], folder / "sentences")
    np.save(folder / "sentence_owner.npy", np.array(owner or [0], dtype=np.int64))


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


# --------------------------------------------------------------------------- checks


def check_compatible(
    manifest: dict[str, Any],
    wanted: dict[str, Any],
    index_dir: Path,
    *,
    keys: Iterable[str] | None = None,
) -> None:
    """Raise IndexMismatchError naming the first setting that differs from the index's."""
    built = manifest.get("settings", {})
    env = {
        "embedding_model": "RAG_EMBEDDING__MODEL",
        "max_tokens": "RAG_CHUNKING__MAX_TOKENS",
        "overlap_tokens": "RAG_CHUNKING__OVERLAP_TOKENS",
        "header": "RAG_CHUNKING__HEADER",
    }
    for k in keys if keys is not None else wanted:
        if k in built and built[k] != wanted.get(k):
            raise IndexMismatchError(
                f"index {index_dir} was built with {k}={built[k]!r} but the settings say "
                f"{wanted.get(k)!r}; rebuild it with `rag ingest --rebuild` or set "
                f"{env.get(k, k)}={built[k]}"
            )


# --------------------------------------------------------------------------- writing


@dataclass
class PendingDoc:
    doc: Document
    chunks: list[Chunk]
    vectors: np.ndarray
    sentence_vectors: list[np.ndarray] | None = None  # per chunk, one row per sentence


class IndexWriter:
    """Builds the next generation from the live one plus changes; `commit()` publishes it.

    Use as a context manager: it holds the index lock from `__enter__` to `__exit__`.
    `commit()` may be called several times (a long ingest publishes its progress).
    """

    def __init__(
        self, index_dir: Path, *, lock_timeout_s: float = 600.0, exact_up_to: int = 50_000
    ) -> None:
        from filelock import FileLock

        self.dir = Path(index_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.dir / LOCK))
        self._timeout = lock_timeout_s
        self._exact_up_to = exact_up_to
        self.base: StoredIndex | None = None
        self.inputs: list[str] | None = None  # files and folders read (None: keep the base's)
        self._removed: set[str] = set()
        self._added: dict[str, PendingDoc] = {}

    def __enter__(self) -> IndexWriter:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=self._timeout)
        except Timeout:
            raise IndexBusyError(
                f"index {self.dir} is locked by another ingest; wait for it to finish "
                "(or raise index.lock_timeout_s)"
            ) from None
        self._clean_aside()
        if current_generation(self.dir) is not None:
            self.base = open_index(self.dir)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.base is not None:
            self.base.close()
        self._lock.release()

    # -- what the base has
    def stored_hashes(self) -> dict[str, str]:
        if self.base is None:
            return {}
        return {k: v["hash"] for k, v in self.base.manifest.get("documents", {}).items()}

    def stored_origins(self) -> dict[str, str | None]:
        if self.base is None:
            return {}
        return {k: v.get("origin") for k, v in self.base.manifest.get("documents", {}).items()}

    # -- changes
    def remove(self, doc_id: str) -> None:
        self._removed.add(doc_id)
        self._added.pop(doc_id, None)

    def put(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: np.ndarray,
        sentence_vectors: list[np.ndarray] | None = None,
    ) -> None:
        """Add a document, replacing any stored one with the same id."""
        self._removed.add(doc.id)
        self._added[doc.id] = PendingDoc(doc, chunks, vectors, sentence_vectors)

    @property
    def changed(self) -> bool:
        return bool(self._added) or bool(
            self.base is not None and self._removed & set(self.stored_hashes())
        )

    def commit(self, settings: dict[str, Any], embedding: dict[str, Any]) -> str:
        """Write the next generation aside, then publish it. Returns its name."""
        import numpy as np

        t0 = time.time()
        number = self._next_number()
        name = f"gen-{number:06d}"
        aside = self.dir / f"{name}.tmp-{os.getpid()}"
        aside.mkdir()
        try:
            kept_docs: list[str] = []
            if self.base is not None:
                kept_docs = [d for d in self.stored_hashes() if d not in self._removed]
            db = sqlite3.connect(aside / "chunks.sqlite")
            db.executescript(_SCHEMA)
            vec_parts: list[np.ndarray] = []
            sent_parts: list[np.ndarray] = []
            pos = n_sent = 0
            documents: dict[str, Any] = {}
            base = self.base
            old_manifest_docs = base.manifest.get("documents", {}) if base else {}

            def add_chunk(c: Chunk, sents: np.ndarray | None) -> None:
                nonlocal pos, n_sent
                row = -1
                if sents is not None and len(sents) == len(c.sentences):
                    row, n_sent = n_sent, n_sent + len(sents)
                    sent_parts.append(np.asarray(sents, dtype=np.float16))
                _insert_chunk(db, pos, c, row)
                pos += 1

            for doc_id in sorted(kept_docs):
                assert base is not None
                rows = base._db.execute(
                    "SELECT id, title, source, url, published_at, origin, extra, hash, n_chunks, "
                    "text FROM docs WHERE id = ?",
                    (doc_id,),
                ).fetchone()
                db.execute("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
                chunks = base.chunks_of(doc_id)
                olds = base.sentence_vectors_at([p for p, _ in chunks])
                for (_, c), sents in zip(chunks, olds, strict=True):
                    add_chunk(c, sents)
                if chunks:
                    idx = np.array([p for p, _ in chunks])
                    vec_parts.append(np.asarray(base.vectors[idx], dtype=np.float32))
                documents[doc_id] = old_manifest_docs[doc_id]
            for doc_id in sorted(self._added):
                pd = self._added[doc_id]
                d = pd.doc
                db.execute(
                    "INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        d.id,
                        d.title,
                        d.source,
                        d.url,
                        d.published_at,
                        d.origin,
                        json.dumps(d.extra, ensure_ascii=False),
                        d.hash,
                        len(pd.chunks),
                        d.text,
                    ),
                )
                sents_of = pd.sentence_vectors or [None] * len(pd.chunks)
                for c, sents in zip(pd.chunks, sents_of, strict=True):
                    add_chunk(c, sents)
                if len(pd.chunks):
                    vec_parts.append(np.asarray(pd.vectors, dtype=np.float32))
                documents[doc_id] = {
                    "hash": d.hash,
                    "origin": d.origin,
                    "chunks": len(pd.chunks),
                    "updated_at": _now(),
                }
            db.commit()
            _build_lexical(db, aside / "lexical", header=bool(settings.get("header", True)))
            db.close()
            dim = int(embedding["dim"])
            vectors = np.vstack(vec_parts) if vec_parts else np.zeros((0, dim), np.float32)
            if vectors.shape != (pos, dim):
                raise AssertionError(f"vectors {vectors.shape} do not match {pos} chunks")
            np.save(aside / "vectors.npy", np.ascontiguousarray(vectors))
            faiss_meta = _build_faiss(vectors, aside / "index.faiss", self._exact_up_to)
            if sent_parts:
                np.save(aside / "sentences.npy", np.ascontiguousarray(np.vstack(sent_parts)))
            created = self.base.manifest.get("created_at") if self.base else None
            manifest = {
                "format": FORMAT_VERSION,
                "generation": name,
                "created_at": created or _now(),
                "updated_at": _now(),
                "settings": settings,
                "inputs": self.inputs
                if self.inputs is not None
                else (self.base.manifest.get("inputs", []) if self.base else []),
                "embedding": embedding,
                "counts": {"documents": len(documents), "chunks": pos, "sentences": n_sent},
                "faiss": faiss_meta,
                "documents": documents,
                "build_seconds": round(time.time() - t0, 3),
            }
            _write_json(aside / "manifest.json", manifest)
            _fsync_tree(aside)
            final = self.dir / name
            os.rename(aside, final)
            _fsync_dir(self.dir)
            _write_atomic(self.dir / CURRENT, name + "\n")
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        self._collect(keep={name, self.base.generation if self.base else name})
        # the new generation is the base of the next commit in this session
        old_base, self.base = self.base, open_index(self.dir)
        if old_base is not None:
            old_base.close()
        self._removed.clear()
        self._added.clear()
        return name

    # -- housekeeping
    def _next_number(self) -> int:
        numbers = [0]
        for p in self.dir.iterdir():
            if p.name.startswith("gen-") and p.name[4:10].isdigit():
                numbers.append(int(p.name[4:10]))
        return max(numbers) + 1

    def _clean_aside(self) -> None:
        """Remove what a killed writer left: temporary folders and unpublished generations."""
        live = current_generation(self.dir)
        for p in self.dir.iterdir():
            if p.name.startswith("gen-") and ".tmp-" in p.name:
                shutil.rmtree(p, ignore_errors=True)
        for p in self.dir.glob("CURRENT.tmp*"):
            p.unlink(missing_ok=True)
        if live is not None:
            live_no = int(live[4:10])
            for p in self.dir.iterdir():
                if (
                    p.name.startswith("gen-")
                    and p.name[4:10].isdigit()
                    and int(p.name[4:10]) > live_no
                ):
                    shutil.rmtree(p, ignore_errors=True)

    def _collect(self, keep: set[str]) -> None:
        for p in self.dir.iterdir():
            if p.name.startswith("gen-") and p.name not in keep and ".tmp-" not in p.name:
                shutil.rmtree(p, ignore_errors=True)


def _insert_chunk(db: sqlite3.Connection, pos: int, c: Chunk, sent_row: int) -> None:
    db.execute(
        "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
        (pos, c.id, c.doc_id, c.start, c.end, c.text, json.dumps(c.sentences), sent_row),
    )


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
