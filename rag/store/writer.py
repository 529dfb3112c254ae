"""Writing: `IndexWriter` builds the next generation aside and publishes it atomically.

A writer builds the next generation aside (`gen-N.tmp-PID`), fsyncs it, renames it into
place and only then points CURRENT at it: a reader sees the old or the new index, never
a mix, and a killed writer leaves at worst a temporary folder the next writer removes.
The previous generation is kept so readers that opened it keep working.

A write that fails (disk full, permission denied, I/O error) removes the temporary
folder, leaves the live generation as it was and raises one `IndexWriteError` line
(rag.store.write_errors). The base is opened like any reader opens it; before its first
commit copies it, every byte is checked against its checksums, so damage is never
carried into a generation with fresh checksums (and an ingest with nothing to write
does not pay for the hashing).

What it does not do: embed, chunk or rank.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.store import flags
from rag.store.build import _build_faiss, _build_lexical
from rag.store.integrity import check_generation, corrupt_error, describe_files, sealed_json
from rag.store.layout import (
    CURRENT,
    FORMAT_VERSION,
    _fsync_dir,
    _fsync_tree,
    _now,
    _write_atomic,
    current_generation,
    generations,
    is_generation_name,
    lock_index,
)
from rag.store.opening import VERIFY_ON_OPEN_MB, live_generation, open_index
from rag.store.reader import StoredIndex
from rag.store.write_errors import BYTES_PER_CHUNK, write_error
from rag.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

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
    `rebuild`: start from an empty index without reading the live generation (which may
    be damaged); it stays as the previous generation until the next commit.
    """

    def __init__(
        self,
        index_dir: Path,
        *,
        lock_timeout_s: float = 600.0,
        exact_up_to: int = 50_000,
        rebuild: bool = False,
        verify_up_to_mb: float = VERIFY_ON_OPEN_MB,
    ) -> None:
        self.dir = Path(index_dir)
        self._live: str | None = None  # the live generation (when started, then committed)
        self.base: StoredIndex | None = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise self._write_error(e, None) or e from None
        self._rebuild = rebuild
        self._verify_mb = verify_up_to_mb
        self._base_checked = False  # every byte of the base checked against its checksums
        self._lock: Any = None
        self._timeout = lock_timeout_s
        self._exact_up_to = exact_up_to
        self.inputs: list[str] | None = None  # files and folders read (None: keep the base's)
        self._removed: set[str] = set()
        self._added: dict[str, PendingDoc] = {}

    def __enter__(self) -> IndexWriter:
        self._lock = lock_index(self.dir, self._timeout)
        try:
            if current_generation(self.dir) is not None or generations(self.dir):
                # a damaged CURRENT would make every generation look unpublished: stop here
                self._live = live_generation(self.dir)
            self._clean_aside()
            if self._live is not None and not self._rebuild:
                self.base = open_index(self.dir, verify_up_to_mb=self._verify_mb)
        except BaseException:
            self._lock.release()
            raise
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
        if self.base is not None and not self._base_checked:
            # every byte checked before it is copied: damage never gets fresh checksums
            check = check_generation(self.dir, self.base.generation, full=True)
            if check.damage:
                raise corrupt_error(self.dir, check.damage)
            self._base_checked = True
        number = self._next_number()
        name = f"gen-{number:06d}"
        aside = self.dir / f"{name}.tmp-{os.getpid()}"
        final = self.dir / name
        published = False
        db: sqlite3.Connection | None = None
        try:
            aside.mkdir()
            kept_docs: list[str] = []
            if self.base is not None:
                kept_docs = [d for d in self.stored_hashes() if d not in self._removed]
            db = sqlite3.connect(aside / "chunks.sqlite")
            db.executescript(_SCHEMA + flags.SCHEMA)
            n_flags = 0
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
                n_flags += flags.insert(db, doc_id, base.flags_of(doc_id))
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
                n_flags += flags.insert(db, d.id, flags.compute(d.text, pd.chunks))
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
            db = None
            dim = int(embedding["dim"])
            vectors = np.vstack(vec_parts) if vec_parts else np.zeros((0, dim), np.float32)
            if vectors.shape != (pos, dim):
                raise AssertionError(f"vectors {vectors.shape} do not match {pos} chunks")
            np.save(aside / "vectors.npy", np.ascontiguousarray(vectors))
            faiss_meta = _build_faiss(vectors, aside / "index.faiss", self._exact_up_to)
            if sent_parts:
                np.save(aside / "sentences.npy", np.ascontiguousarray(np.vstack(sent_parts)))
            created = self.base.manifest.get("created_at") if self.base else None
            manifest: dict[str, Any] = {
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
                "injection": flags.manifest_entry(n_flags),
                "documents": documents,
                "build_seconds": round(time.time() - t0, 3),
            }
            manifest["files"] = describe_files(aside)  # sizes, checksums, array shapes
            (aside / "manifest.json").write_text(sealed_json(manifest), encoding="utf-8")
            _fsync_tree(aside)
            os.rename(aside, final)
            _fsync_dir(self.dir)
            _write_atomic(self.dir / CURRENT, name + "\n")
            published = True
        except BaseException as e:
            if db is not None:
                db.close()
            failed = _last_written(aside) or _last_written(final)  # the file being written
            shutil.rmtree(aside, ignore_errors=True)
            if not published and current_generation(self.dir) != name:
                shutil.rmtree(final, ignore_errors=True)  # renamed but never published
            err = self._write_error(e, name, needed=self._estimate_bytes(), path=failed)
            if err is None:
                raise
            raise err from None
        previous = self.base.generation if self.base else self._live
        self._collect(keep={name, previous or name})
        self._live = name
        # the new generation is the base of the next commit in this session (just hashed)
        old_base, self.base = self.base, open_index(self.dir, verify_up_to_mb=0)
        self._base_checked = True
        if old_base is not None:
            old_base.close()
        self._removed.clear()
        self._added.clear()
        return name

    # -- housekeeping
    def _estimate_bytes(self) -> int:
        """About how many bytes the next generation takes (the base's bytes per chunk, or
        BYTES_PER_CHUNK, times the chunks it will hold)."""
        base = self.base
        kept = 0
        per = float(BYTES_PER_CHUNK)
        if base is not None:
            docs = base.manifest.get("documents", {})
            kept = sum(int(v.get("chunks", 0)) for k, v in docs.items() if k not in self._removed)
            files = base.manifest.get("files") or {}
            if files and base.n_chunks:
                per = sum(int(f.get("bytes", 0)) for f in files.values()) / base.n_chunks
        n = kept + sum(len(p.chunks) for p in self._added.values())
        return int(per * max(n, 1) * 1.1) + (1 << 20)

    def _write_error(
        self,
        e: BaseException,
        generation: str | None,
        needed: int | None = None,
        path: Path | None = None,
    ) -> BaseException | None:
        live = self._live
        base = self.base if self.base is not None and self.base.generation == live else None
        documents = base.manifest.get("counts", {}).get("documents") if base else None
        return write_error(
            e,
            self.dir,
            generation=generation,
            live=live,
            needed=needed,
            path=path,
            documents=documents,
        )

    def _next_number(self) -> int:
        numbers = [0]
        for p in self.dir.iterdir():
            if p.name.startswith("gen-") and p.name[4:10].isdigit():
                numbers.append(int(p.name[4:10]))
        return max(numbers) + 1

    def _clean_aside(self) -> None:
        """Remove what a killed writer left: temporary folders and unpublished generations."""
        live = self._live
        for p in self.dir.iterdir():
            if p.name.startswith("gen-") and ".tmp-" in p.name:
                shutil.rmtree(p, ignore_errors=True)
        for p in self.dir.glob("CURRENT.tmp*"):
            p.unlink(missing_ok=True)
        if live is not None and is_generation_name(live):
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


def _last_written(folder: Path) -> Path | None:
    """The most recently modified file under `folder` (None if there is none)."""
    try:
        files = [p for p in folder.rglob("*") if p.is_file()]
        return max(files, key=lambda p: p.stat().st_mtime_ns) if files else None
    except OSError:
        return None


def _insert_chunk(db: sqlite3.Connection, pos: int, c: Chunk, sent_row: int) -> None:
    db.execute(
        "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
        (pos, c.id, c.doc_id, c.start, c.end, c.text, json.dumps(c.sentences), sent_row),
    )
