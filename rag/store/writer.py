"""Writing: `IndexWriter` publishes the next generation atomically, appending a segment.

A commit writes the documents it adds as one new segment (rag.store.segment) and records
the documents it removes or replaces as tombstones of the segments holding them; the
segments it keeps are hard links to the previous generation's files. Its cost grows with
what changed, not with the index. The next generation is built aside (`gen-N.tmp-PID`),
its new files fsynced, renamed into place, and only then named by CURRENT: a reader sees
the old or the new index, never a mix, and a killed writer leaves at worst a temporary
folder the next writer removes. The previous generation is kept so readers that opened
it keep working.

Segments of similar size are merged in the background once `merge_factor` of them pile
up (rag.store.merge, rag.store.compaction); the next commit swaps the merged segment in,
and a writer that ends waits for a running merge and publishes it. `compact()` merges
every segment into one (`rag index compact`).

A write that fails (disk full, permission denied, I/O error) removes the temporary
folder, leaves the live generation as it was and raises one `IndexWriteError` line
(rag.store.write_errors). Kept segments keep their recorded checksums (they are the
same files), so damage is never carried forward under fresh checksums; a merge checks
every byte of its sources before rewriting them.

What it does not do: embed, chunk or rank.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.store import tombstones
from rag.store.compaction import MERGE_PREFIX, BackgroundMerge
from rag.store.integrity import describe_file, describe_files, sealed_json
from rag.store.layout import (
    CURRENT,
    FORMAT_VERSION,
    _fsync_dir,
    _fsync_dirs,
    _fsync_tree,
    _now,
    _write_atomic,
    current_generation,
    generations,
    is_generation_name,
    link_tree,
    lock_index,
)
from rag.store.merge import plan
from rag.store.opening import VERIFY_ON_OPEN_MB, live_generation, open_index
from rag.store.reader import StoredIndex
from rag.store.seg_reader import IVF_NPROBE
from rag.store.segment import NewDoc, segment_name, write_segment
from rag.store.write_errors import BYTES_PER_CHUNK, write_error
from rag.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("rag")
PendingDoc = NewDoc  # the name callers know


class IndexWriter:
    """Builds the next generation from the live one plus changes; `commit()` publishes it.

    Use as a context manager: it holds the index lock from `__enter__` to `__exit__`.
    `commit()` may be called several times (a long ingest publishes its progress).
    `rebuild`: start from an empty index without reading the live generation (which may
    be damaged); it stays as the previous generation until the next commit.
    `merge_factor`: segments of a size merged once this many pile up (0: never merge).
    """

    def __init__(
        self,
        index_dir: Path,
        *,
        lock_timeout_s: float = 600.0,
        exact_up_to: int = 50_000,
        rebuild: bool = False,
        verify_up_to_mb: float = VERIFY_ON_OPEN_MB,
        merge_factor: int = 10,
        background_merge: bool = True,
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
        self._lock: Any = None
        self._timeout = lock_timeout_s
        self._exact_up_to = exact_up_to
        self._merge_factor = merge_factor
        self._background = background_merge
        self._merge: BackgroundMerge | None = None
        self._last: tuple[dict[str, Any], dict[str, Any]] | None = None  # settings, embedding
        self.inputs: list[str] | None = None  # files and folders read (None: keep the base's)
        self._removed: set[str] = set()
        self._added: dict[str, NewDoc] = {}
        self._records: dict[str, dict[str, Any]] | None = None

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

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if self._merge is not None:
                if exc_type is None and self._last is not None:
                    self._merge.wait()  # a merge under way is finished and published
                    if self._merge.result is not None:
                        self.commit(*self._last)
                if self._merge is not None:
                    self._merge.cancel()
                    self._merge = None
        finally:
            if self.base is not None:
                self.base.close()
            self._lock.release()

    # -- what the base has
    def _base_records(self) -> dict[str, dict[str, Any]]:
        if self._records is None:
            self._records = self.base.documents() if self.base is not None else {}
        return self._records

    def stored_hashes(self) -> dict[str, str]:
        return {k: v["hash"] for k, v in self._base_records().items()}

    def stored_origins(self) -> dict[str, str | None]:
        return {k: v.get("origin") for k, v in self._base_records().items()}

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
        self._added[doc.id] = NewDoc(doc, chunks, vectors, sentence_vectors)

    @property
    def changed(self) -> bool:
        return bool(self._added) or bool(
            self.base is not None and self._removed & set(self.stored_hashes())
        )

    def commit(self, settings: dict[str, Any], embedding: dict[str, Any]) -> str:
        """Write the next generation aside, then publish it. Returns its name."""
        t0 = time.time()
        self._last = (settings, embedding)
        number = self._next_number()
        name = f"gen-{number:06d}"
        aside = self.dir / f"{name}.tmp-{os.getpid()}"
        final = self.dir / name
        published = False
        base = self.base
        try:
            aside.mkdir()
            old = base.manifest if base is not None else {}
            segs = [dict(m, deleted=list(m.get("deleted", []))) for m in old.get("segments", [])]
            files: dict[str, Any] = {}
            next_seg = int(old.get("next_segment", len(segs) + 1))
            header = bool(settings.get("header", True))
            self._tombstones(segs, aside, files, header)
            merged = self._take_merge(segs, aside, files, header)
            if self._added:
                new = segment_name(next_seg)
                next_seg += 1
                docs = [self._added[d] for d in sorted(self._added)]
                meta = write_segment(
                    aside / new,
                    docs,
                    dim=int(embedding["dim"]),
                    header=header,
                    exact_up_to=self._exact_up_to,
                )
                segs.append(meta)
                _fsync_tree(aside / new)
                files.update(describe_files(aside / new, prefix=new + "/"))
            for meta in segs:  # kept segments (and tombstones): the same files, linked
                name_ = meta["name"]
                kept = [] if (aside / name_).exists() else [name_ + "/"]
                if meta["deleted"] and not (aside / tombstones.FOLDER / f"{name_}.json").exists():
                    kept += [
                        f"{tombstones.FOLDER}/{name_}.json",
                    ]
                for prefix in kept:
                    assert base is not None
                    src, dst = base.path / prefix, aside / prefix
                    if prefix.endswith("/"):
                        link_tree(src, dst)
                    else:
                        dst.parent.mkdir(exist_ok=True)
                        os.link(src, dst)
                    files.update(
                        (rel, e)
                        for rel, e in old.get("files", {}).items()
                        if rel.startswith(prefix)
                    )
            manifest = self._manifest(name, settings, embedding, segs, next_seg, t0)
            manifest["files"] = files
            (aside / "manifest.json").write_text(sealed_json(manifest), encoding="utf-8")
            _fsync_tree_file(aside / "manifest.json")
            _fsync_dirs(aside)
            os.rename(aside, final)
            _fsync_dir(self.dir)
            _write_atomic(self.dir / CURRENT, name + "\n")
            published = True
            if merged is not None:
                merged.discard()
        except BaseException as e:
            failed = _last_written(aside) or _last_written(final)  # the file being written
            shutil.rmtree(aside, ignore_errors=True)
            if not published and current_generation(self.dir) != name:
                shutil.rmtree(final, ignore_errors=True)  # renamed but never published
            err = self._write_error(e, name, needed=self._estimate_bytes(), path=failed)
            if err is None:
                raise
            raise err from None
        previous = base.generation if base else self._live
        self._collect(keep={name, previous or name})
        self._live = name
        # the new generation is the base of the next commit in this session
        old_base, self.base = self.base, open_index(self.dir, verify_up_to_mb=0)
        if old_base is not None:
            old_base.close()
        self._removed.clear()
        self._added.clear()
        self._records = None
        self._start_merge()
        return name

    def compact(self) -> str | None:
        """Merge every segment into one (tombstones dropped) and publish it; None when
        there is nothing to merge (one segment, nothing deleted)."""
        base = self.base
        if base is None:
            return None
        segs = base.manifest.get("segments", [])
        if len(segs) <= 1 and not any(m.get("deleted") for m in segs):
            return None
        if self._merge is not None:
            self._merge.cancel()
        self._merge = self._new_merge([m["name"] for m in segs], background=False)
        if self._merge.error is not None:
            err, failed, self._merge = self._merge.error, self._merge, None
            failed.discard()
            raise err
        return self.commit(dict(base.manifest["settings"]), dict(base.manifest["embedding"]))

    def settle(self) -> int:
        """Run the merge policy until it finds nothing to merge, publishing each merge;
        returns how many merges ran (what a long ingest would have merged by now)."""
        base = self.base
        if base is None or self._merge_factor < 2:
            return 0
        last = (dict(base.manifest["settings"]), dict(base.manifest["embedding"]))
        done = 0
        self._start_merge()
        while self._merge is not None:
            self._merge.wait()
            if self._merge.error is not None:
                err, failed, self._merge = self._merge.error, self._merge, None
                failed.discard()
                raise err
            self.commit(*last)  # swaps it in, and starts the next merge the policy finds
            done += 1
        return done

    # -- steps of a commit
    def _tombstones(
        self, segs: list[dict[str, Any]], aside: Path, files: dict[str, Any], header: bool
    ) -> None:
        """Documents removed or replaced become tombstones of the segments holding them,
        with what they added to the statistics (rag.store.tombstones)."""
        base = self.base
        if base is None:
            return
        where = {m["name"]: m for m in segs}
        records = self._base_records()
        new: dict[str, list[str]] = {}
        for doc_id in sorted(self._removed):
            seg = base._segment_of(doc_id)
            if seg is None or seg.name not in where:
                continue
            m = where[seg.name]
            if doc_id not in m["deleted"]:
                m["deleted"].append(doc_id)
                m["deleted_chunks"] = m.get("deleted_chunks", 0) + int(
                    records.get(doc_id, {}).get("chunks", 0)
                )
                m["deleted_flagged"] = m.get("deleted_flagged", 0) + len(base.flags_of(doc_id))
                new.setdefault(seg.name, []).append(doc_id)
        for seg in base.segments:
            if seg.name in new:
                stats = seg.tombstones() or tombstones.empty()
                stats = copy.deepcopy(stats)
                tombstones.add(stats, seg, new[seg.name], header=header)
                self._write_tombstones(aside, seg.name, stats, files)

    def _write_tombstones(
        self, aside: Path, name: str, stats: dict[str, Any], files: dict[str, Any]
    ) -> None:
        f = tombstones.write(aside, name, stats)
        _fsync_tree_file(f)
        files[f.relative_to(aside).as_posix()] = describe_file(f)

    def _take_merge(
        self, segs: list[dict[str, Any]], aside: Path, files: dict[str, Any], header: bool
    ) -> BackgroundMerge | None:
        """Swap a finished merge in for its sources (documents deleted from them since it
        began become its tombstones)."""
        m = self._merge
        if m is None or not m.done:
            return None
        self._merge = None
        if m.error is not None or m.result is None:
            log.warning("merging %s failed: %s", ", ".join(m.names), m.error)
            m.discard()
            return None
        names = [s["name"] for s in segs]
        if not all(n in names for n in m.names):
            m.discard()
            return None
        result = dict(m.result, deleted=[], deleted_chunks=0)
        later = sorted(
            d
            for s in segs
            if s["name"] in m.names
            for d in set(s["deleted"]) - m.started_with.get(s["name"], set())
        )
        if later:
            from rag.store.seg_reader import Segment

            seg = Segment(m.folder().parent.parent, m.folder().parent.name, result)
            try:
                found = seg.records(later)
                result["deleted"] = sorted(found)
                result["deleted_chunks"] = sum(r["chunks"] for r in found.values())
                stats = tombstones.empty()
                tombstones.add(stats, seg, sorted(found), header=header)
            finally:
                seg.close()
            self._write_tombstones(aside, result["name"], stats, files)
        at = names.index(m.names[0])
        segs[:] = [s for s in segs if s["name"] not in m.names]
        for name in m.names:  # the sources' tombstones go with them
            rel = f"{tombstones.FOLDER}/{name}.json"
            (aside / rel).unlink(missing_ok=True)
            files.pop(rel, None)
        if result["documents"]:
            os.rename(m.folder(), aside / result["name"])
            segs.insert(min(at, len(segs)), result)
            prefix = result["name"] + "/"
            files.update((prefix + rel, e) for rel, e in m.files.items())
        return m

    def _start_merge(self) -> None:
        if self._merge is not None or self._merge_factor < 2 or self.base is None:
            return
        names = plan(self.base.manifest.get("segments", []), self._merge_factor)
        if names:
            self._merge = self._new_merge(names, background=self._background)

    def _new_merge(self, names: list[str], *, background: bool) -> BackgroundMerge:
        assert self.base is not None
        m = self.base.manifest
        m["next_segment"] = int(m.get("next_segment", 1)) + 1  # the merged one's number
        return BackgroundMerge(
            self.dir,
            self.base.generation,
            m,
            names,
            segment_name(m["next_segment"] - 1),
            exact_up_to=self._exact_up_to,
            background=background,
        )

    def _manifest(
        self,
        name: str,
        settings: dict[str, Any],
        embedding: dict[str, Any],
        segs: list[dict[str, Any]],
        next_seg: int,
        t0: float,
    ) -> dict[str, Any]:
        from rag.injection import DETECTOR_VERSION

        base = self.base
        chunks = sum(m["chunks"] - m.get("deleted_chunks", 0) for m in segs)
        current = all(m.get("injection", {}).get("detector") == DETECTOR_VERSION for m in segs)
        created = base.manifest.get("created_at") if base else None
        return {
            "format": FORMAT_VERSION,
            "generation": name,
            "created_at": created or _now(),
            "updated_at": _now(),
            "settings": settings,
            "inputs": self.inputs
            if self.inputs is not None
            else (base.manifest.get("inputs", []) if base else []),
            "embedding": embedding,
            "counts": {
                "documents": sum(m["documents"] - len(m.get("deleted", [])) for m in segs),
                "chunks": chunks,
                "sentences": sum(m["sentences"] for m in segs),
                "segments": len(segs),
            },
            "faiss": {"type": "flat"}
            if chunks <= self._exact_up_to
            else {"type": "segments", "nprobe": IVF_NPROBE},
            "injection": {
                "detector": DETECTOR_VERSION if current else "mixed",
                "flagged": sum(m.get("flagged", 0) - m.get("deleted_flagged", 0) for m in segs),
            },
            "segments": segs,
            "next_segment": next_seg,
            "build_seconds": round(time.time() - t0, 3),
        }

    # -- housekeeping
    def _estimate_bytes(self) -> int:
        """About how many bytes the next commit writes (the base's bytes per chunk, or
        BYTES_PER_CHUNK, times the chunks it adds: kept segments are linked)."""
        base = self.base
        per = float(BYTES_PER_CHUNK)
        if base is not None:
            files = base.manifest.get("files") or {}
            if files and base.n_chunks:
                per = sum(int(f.get("bytes", 0)) for f in files.values()) / base.n_chunks
        n = sum(len(p.chunks) for p in self._added.values())
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
        for p in self.dir.glob(f"{MERGE_PREFIX}*.tmp-*"):  # a merge of a killed writer
            shutil.rmtree(p, ignore_errors=True)
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


def _fsync_tree_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
