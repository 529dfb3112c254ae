"""One segment of a generation, opened read-only (`Segment`).

Its rows are local (0 .. chunks − 1); the documents the generation deleted from it
(tombstones) are dead, and `live` says which rows are not. rag.store.reader puts the
segments of a generation side by side as one index.

What it does not do: write (rag.store.segment), check checksums (rag.store.integrity).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.store import flags
from rag.store.guarded import GuardedDB
from rag.store.integrity import Damage, corrupt_error
from rag.types import Chunk, DocMeta

if TYPE_CHECKING:
    import numpy as np

    from rag.injection import Flag
    from rag.store.postings import Postings

IVF_NPROBE = 16
CHUNK_COLUMNS = 'pos, id, doc_id, start, "end", text, sentences'


class Segment:
    def __init__(self, index_dir: Path, generation: str, meta: dict[str, Any]) -> None:
        import numpy as np

        self.index_dir, self.generation, self.meta = index_dir, generation, meta
        self.name: str = meta["name"]
        self.path = index_dir / generation / self.name
        self.n = int(meta["chunks"])
        self.deleted = frozenset(meta.get("deleted", []))
        db_path = self.path / "chunks.sqlite"
        try:
            # immutable=1: a segment never changes: no locks, no journal
            con = sqlite3.connect(
                f"file:{db_path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
        except sqlite3.DatabaseError as e:
            raise self._damaged("chunks.sqlite", f"cannot be opened ({e})") from None
        self.db = GuardedDB(con, index_dir, generation, f"{self.name}/chunks.sqlite")
        self.vectors = self._array("vectors.npy", np)
        sent = self.path / "sentences.npy"
        self.sent_vectors = self._array("sentences.npy", np) if sent.is_file() else None
        self._live: np.ndarray | None = None
        self._docs: dict[str, DocMeta] | None = None
        # every file search reads is opened now: a writer may remove this generation's
        # folder once a newer one is published, and open files outlive that
        self._postings: dict[str, Postings] = {}
        for kind in ("chunks", "sentences"):
            if (self.path / "lexical" / kind).is_dir():
                self.postings(kind)
        self._owner: np.ndarray | None = None
        if (self.path / "lexical" / "sentence_owner.npy").is_file():
            self.sentence_owner()
        self._faiss: Any = None
        faiss_file = self.path / "index.faiss"
        self._faiss_file = open(faiss_file, "rb") if faiss_file.is_file() else None  # noqa: SIM115
        self._flags: dict[str, list[Flag]] | None = None
        self._tomb: dict[str, Any] | None = None
        self.tombstones()

    # ------------------------------------------------------------------ rows
    @property
    def live(self) -> np.ndarray:
        """Per local row: False when its document was deleted from this segment."""
        if self._live is None:
            import numpy as np

            live = np.ones(self.n, dtype=bool)
            dead = sorted(self.deleted)
            for i in range(0, len(dead), 500):
                part = dead[i : i + 500]
                rows = self.db.execute(
                    f"SELECT pos FROM chunks WHERE doc_id IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                live[[r[0] for r in rows]] = False
            self._live = live
        return self._live

    @property
    def all_live(self) -> bool:
        return not self.deleted

    def docs(self) -> dict[str, DocMeta]:
        """Live documents, by id."""
        if self._docs is None:
            rows = self.db.execute(
                "SELECT id, title, source, url, published_at, origin, extra FROM docs ORDER BY id"
            ).fetchall()
            try:
                self._docs = {
                    r[0]: DocMeta(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
                    for r in rows
                    if r[0] not in self.deleted
                }
            except ValueError as e:
                raise self.db.damaged(e, "a document row") from None
        return self._docs

    def docs_any(self) -> dict[str, DocMeta]:
        """Every document written into this segment, deleted or not."""
        rows = self.db.execute(
            "SELECT id, title, source, url, published_at, origin, extra FROM docs"
        ).fetchall()
        return {r[0]: DocMeta(r[0], r[1], r[2], r[3], r[4], r[5], {}) for r in rows}

    def tombstones(self) -> dict[str, Any] | None:
        """What its deleted documents added to the statistics (rag.store.tombstones)."""
        if not self.deleted:
            return None
        if self._tomb is None:
            from rag.store import tombstones

            try:
                self._tomb = tombstones.read(self.index_dir / self.generation, self.name)
            except (OSError, ValueError) as e:
                raise corrupt_error(
                    self.index_dir,
                    [
                        Damage(
                            self.generation, f"tombstones/{self.name}.json", f"is unreadable ({e})"
                        )
                    ],
                ) from None
        return self._tomb

    def records(self, ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """Live documents' hash, origin, chunk count and time of update (all, or `ids`)."""
        sql = "SELECT id, hash, origin, n_chunks, updated_at FROM docs"
        if ids is None:
            rows = self.db.execute(sql).fetchall()
        else:
            rows = self.db.execute(f"{sql} WHERE id IN ({','.join('?' * len(ids))})", ids)
            rows = rows.fetchall()
        return {
            r[0]: {"hash": r[1], "origin": r[2], "chunks": r[3], "updated_at": r[4]}
            for r in rows
            if r[0] not in self.deleted
        }

    def doc_rows(self) -> list[tuple[Any, ...]]:
        rows = self.db.execute(
            "SELECT id, title, source, published_at, n_chunks FROM docs ORDER BY id"
        ).fetchall()
        return [r for r in rows if r[0] not in self.deleted]

    def doc_text(self, doc_id: str) -> str | None:
        row = self.db.execute("SELECT text FROM docs WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def chunk_rows(self) -> list[tuple[Any, ...]]:
        """(doc_id, sent_row, sentence count) of every local row, in order."""
        return self.db.execute(
            "SELECT doc_id, sent_row, json_array_length(sentences) FROM chunks ORDER BY pos"
        ).fetchall()

    def chunks_at(self, local: Sequence[int]) -> dict[int, Chunk]:
        pos = [int(p) for p in local]
        out: dict[int, Chunk] = {}
        for i in range(0, len(pos), 500):
            part = pos[i : i + 500]
            rows = self.db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE pos IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()
            out.update((r[0], self._chunk(r)) for r in rows)
        return out

    def chunks_where(self, where: str = "", params: Sequence[Any] = ()) -> list[tuple[int, Chunk]]:
        rows = self.db.execute(
            f"SELECT {CHUNK_COLUMNS} FROM chunks {where} ORDER BY pos", params
        ).fetchall()
        return [(r[0], self._chunk(r)) for r in rows]

    def sentence_spans(self, local: Sequence[int]) -> dict[int, tuple[int, int]]:
        """Local row → (first sentence-vector row, count); -1 when not stored."""
        pos = [int(p) for p in local]
        out: dict[int, tuple[int, int]] = {}
        for i in range(0, len(pos), 500):
            part = pos[i : i + 500]
            rows = self.db.execute(
                "SELECT pos, sent_row, json_array_length(sentences) FROM chunks "
                f"WHERE pos IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()
            out.update((r[0], (r[1], r[2])) for r in rows)
        return out

    def flags_of(self, doc_id: str, chunks: Any) -> list[Flag]:
        """Flags stored with the document, or computed when this segment was written by
        another detector version (rag.store.flags)."""
        if self._flags is None:
            kept = flags.stored(self.db, {"injection": self.meta.get("injection", {})})
            self._flags = {} if kept is None else {d: kept.get(d, []) for d in self.docs()}
        if doc_id not in self._flags:
            self._flags[doc_id] = flags.compute(self.doc_text(doc_id) or "", chunks())
        return self._flags[doc_id]

    # ------------------------------------------------------------------ search parts
    def postings(self, kind: str) -> Postings:
        """The BM25 postings of the chunks ("chunks") or of their sentences ("sentences")."""
        if kind not in self._postings:
            from rag.store.postings import Postings

            try:
                self._postings[kind] = Postings(self.path / "lexical" / kind)
            except (OSError, ValueError, KeyError) as e:
                raise self._damaged_read(e, f"lexical/{kind}") from None
        return self._postings[kind]

    def sentence_owner(self) -> np.ndarray:
        if self._owner is None:
            import numpy as np

            try:
                self._owner = np.load(self.path / "lexical" / "sentence_owner.npy", mmap_mode="r")
            except (OSError, ValueError) as e:
                raise self._damaged_read(e, "lexical/sentence_owner.npy") from None
        return self._owner

    def faiss_index(self) -> Any:
        """This segment's FAISS index: its inverted-file index, or a flat one built here."""
        if self._faiss is None:
            import faiss
            import numpy as np

            f = self._faiss_file
            if f is not None:
                try:
                    f.seek(0)
                    idx = faiss.read_index(faiss.PyCallbackIOReader(f.read))
                except RuntimeError as e:  # how FAISS reports a short or garbled file
                    lines = str(e).strip().splitlines() or ["FAISS could not read it"]
                    raise self._damaged(
                        "index.faiss", f"is unreadable ({lines[-1][:100]})"
                    ) from None
                idx.nprobe = int(self.meta.get("faiss", {}).get("nprobe", IVF_NPROBE))
            else:
                idx = faiss.IndexFlatIP(int(self.vectors.shape[1]))
                if self.n:
                    idx.add(np.ascontiguousarray(self.vectors, dtype=np.float32))
            self._faiss = idx
        return self._faiss

    def close(self) -> None:
        self.db.close()
        if self._faiss_file is not None:
            self._faiss_file.close()

    # ------------------------------------------------------------------ damage
    def _array(self, rel: str, np: Any) -> np.ndarray:
        try:
            return np.load(self.path / rel, mmap_mode="r")
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)[:100]
            raise self._damaged(rel, f"is unreadable ({why})") from None

    def _chunk(self, r: Sequence[Any]) -> Chunk:
        try:
            return Chunk(
                id=r[1], doc_id=r[2], start=r[3], end=r[4], text=r[5],
                sentences=[(a, b) for a, b in json.loads(r[6])],
            )  # fmt: skip
        except (ValueError, TypeError) as e:
            raise self.db.damaged(e, f"chunk row {r[0]}") from None

    def _damaged(self, rel: str, problem: str) -> Exception:
        return corrupt_error(
            self.index_dir, [Damage(self.generation, f"{self.name}/{rel}", problem)]
        )

    def _damaged_read(self, e: BaseException, default: str) -> Exception:
        where = getattr(e, "filename", None)
        rel = Path(where).relative_to(self.path).as_posix() if where else default
        if isinstance(e, OSError) and e.strerror:
            why = e.strerror
        else:
            why = " ".join(str(e).split())[:100] or type(e).__name__
        return self._damaged(rel, f"is unreadable ({why})")
