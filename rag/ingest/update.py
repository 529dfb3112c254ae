"""Updating an index from inputs: read, cluster copies, chunk and embed what changed,
publish generations; stop cleanly on SIGINT/SIGTERM.

`ingest` is what every face calls (through `rag.api`). Unchanged documents (same
content hash) cost no embedding; copies of a document (`dedup`) are stored without
chunks; a long ingest publishes its progress every `index.commit_every_s`, and a
signal stops it between batches after publishing them (`rag.interrupts`).

What it does not do: read files itself (`files`, `web`), search or answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag import skiplog
from rag.chunking import Chunker, ChunkParams
from rag.config import Settings, index_fingerprint, load_settings
from rag.embed import Encoder, get_encoder
from rag.errors import IndexMismatchError, InputError, RagError
from rag.ingest.common import Skipped
from rag.ingest.embedding import embed_inputs, encode_groups
from rag.ingest.web import is_url
from rag.interrupts import Interrupted, Stop, StopSignals, signal_name
from rag.store import IndexWriter, StoredIndex, check_compatible, current_generation, open_index
from rag.types import Chunk, Document


@dataclass
class IngestReport:
    index: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # stored, their file gone (see --prune)
    skipped: list[Skipped] = field(default_factory=list)
    new_skipped: list[Skipped] = field(default_factory=list)  # not skipped last time
    warnings: list[Skipped] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)  # notes on duplicates stored as copies
    files: int = 0
    chunks_embedded: int = 0
    generation: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.skipped)} skipped; {self.chunks_embedded} "
            f"chunk{'' if self.chunks_embedded == 1 else 's'} embedded "
            f"in {self.seconds:.1f} s → {self.index}"
        )


@dataclass
class IngestProgress:
    """Callbacks a face may pass to show progress (all optional)."""

    on_start: Callable[[int], None] | None = None  # total chunks to embed
    on_advance: Callable[[int], None] | None = None  # chunks just embedded
    on_notice: Callable[[str], None] | None = None


def recorded_inputs(index_dir: Path) -> list[str]:
    """The files and folders an index was built from (its manifest's `inputs`)."""
    import json

    gen = current_generation(index_dir)
    if gen is None:
        return []
    try:
        manifest = json.loads((index_dir / gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(p) for p in manifest.get("inputs", [])]


def _origin_file(origin: str | None) -> str | None:
    if not origin:
        return None
    # records are stored as "file#i" (JSON) or "file:line" (JSONL)
    for sep in ("#", ":"):
        head, _, tail = origin.rpartition(sep)
        if head and tail.isdigit():
            return head
    return origin


def ingest(
    paths: Sequence[Path | str] | None = None,
    settings: Settings | None = None,
    *,
    rebuild: bool = False,
    prune: bool = False,
    progress: IngestProgress | None = None,
    encoder: Encoder | None = None,
    ray: str | None = None,
) -> IngestReport:
    """Add new and changed documents under `paths` to the index; embed only what changed.

    Unchanged documents (same content hash) cost no embedding. `rebuild` starts from an
    empty index (needed after changing the embedding model or chunk settings); `prune`
    removes stored documents whose file is gone or no longer holds them. `ray`: read,
    chunk and embed on Ray Data ("local", or a cluster's address; rag.ingest.ray_run).
    """
    s = settings or load_settings()
    progress = progress or IngestProgress()
    t0 = time.perf_counter()
    recorded = recorded_inputs(Path(s.index.dir))
    named = bool(paths)
    if paths:
        paths = list(paths)
    elif recorded:  # what this index was built from (also to rebuild it), not the bundled corpus
        paths = [p for p in recorded if is_url(p) or Path(p).exists()]
        missing = [p for p in recorded if not is_url(p) and not Path(p).exists()]
        if missing and progress.on_notice:
            progress.on_notice(f"recorded input {', '.join(missing)} is gone; skipping it")
        if not paths:
            raise InputError(
                f"none of the inputs index {s.index.dir} was built from exists any more "
                f"({', '.join(recorded)}); name the files or folders to read"
            )
    else:
        paths = list(s.index.corpus)
    stop = StopSignals()
    done = _Done()
    cluster: Any = nullcontext()
    if ray is not None:
        from rag.ingest.ray_run import RayCluster

        cluster = RayCluster(ray)
    with stop, cluster as on_ray:
        try:
            return _ingest(
                s, paths, recorded, named, rebuild, prune, progress, encoder, stop, done, t0,
                on_ray,
            )  # fmt: skip
        except Stop as e:
            raise _interrupted(s, e.signum, rebuild, done) from None


@dataclass
class _Done:
    """How far an ingest got: documents published so far of those to embed."""

    committed: int = 0
    todo: int = 0


def _interrupted(s: Settings, signum: int, rebuild: bool, done: _Done) -> Interrupted:
    from rag.ingest.run import interrupted_message

    index = Path(s.index.dir)
    gen = current_generation(index)
    kept_now = 0
    if gen is not None:
        import json

        try:
            manifest = json.loads((index / gen / "manifest.json").read_text(encoding="utf-8"))
            kept_now = int(manifest.get("counts", {}).get("documents", 0))
        except (OSError, ValueError):
            pass
    msg = interrupted_message(
        index,
        signal_name(signum),
        kept_now=kept_now,
        committed=done.committed,
        todo=done.todo,
        rebuild=rebuild,
    )
    return Interrupted(msg, signum)


def _ingest(
    s: Settings,
    paths: list[Path | str],
    recorded: list[str],
    named: bool,
    rebuild: bool,
    prune: bool,
    progress: IngestProgress,
    encoder: Encoder | None,
    stop: StopSignals,
    done: _Done,
    t0: float,
    cluster: Any = None,
) -> IngestReport:
    from rag.ingest.run import copy_notice, known_pages, plan_copies, read_inputs

    known: dict[str, tuple[str, dict[str, str]]] = {}
    if not rebuild and current_generation(Path(s.index.dir)) is not None:
        try:
            known = known_pages(open_index(Path(s.index.dir)))
        except (RagError, OSError, ValueError):  # a damaged index: the writer reports it
            known = {}
    read = read_inputs(paths, s, known, cluster)
    report = IngestReport(
        Path(s.index.dir), skipped=read.skipped, warnings=read.warnings, files=read.files
    )
    # a rebuild from named paths starts the record over; anything else adds to it
    kept = [] if (rebuild and named) else recorded
    inputs = sorted({*kept, *(str(p) if is_url(str(p)) else str(Path(p).resolve()) for p in paths)})
    fingerprint = index_fingerprint(s)

    writer = IndexWriter(
        s.index.dir,
        lock_timeout_s=s.index.lock_timeout_s,
        exact_up_to=s.index.exact_up_to,
        rebuild=rebuild,
        verify_up_to_mb=s.index.verify_on_open_mb,
        merge_factor=s.index.merge_factor,
    )
    with writer as w:
        w.inputs = inputs
        stored = w.stored_hashes()
        if w.base is not None and not rebuild:
            check_compatible(w.base.manifest, fingerprint, w.dir)
        if rebuild:
            for doc_id in stored:
                w.remove(doc_id)
            stored_now: dict[str, str] = {}
        else:
            stored_now = stored

        todo: list[Document] = []
        for d in read.documents:
            old = stored_now.get(d.id)
            if old == d.hash:
                report.unchanged.append(d.id)
            else:
                (report.updated if old is not None else report.added).append(d.id)
                todo.append(d)
        report.unchanged += [u.doc_id for u in read.unchanged if u.doc_id in stored_now]

        removed: set[str] = set()
        if not rebuild:  # stored documents whose file is gone: --prune removes them
            seen_ids = {d.id for d in read.documents} | {u.doc_id for u in read.unchanged}
            read_files = {_origin_file(d.origin) for d in read.documents}
            read_files |= {_origin_file(x.where) for x in read.skipped}
            for doc_id, origin in w.stored_origins().items():
                if origin and is_url(origin):  # pages are never "gone": a feed moves on
                    continue
                f = _origin_file(origin)
                gone = f is not None and not Path(f).exists()
                dropped = f in read_files and doc_id not in seen_ids  # file read, doc not in it
                if prune and (gone or dropped):
                    w.remove(doc_id)
                    removed.add(doc_id)
                    report.removed.append(doc_id)
                elif gone:
                    report.gone.append(doc_id)

        # duplicates: copies are stored without chunks; ex-copies are embedded
        if todo or removed or rebuild or _threshold_changed(w.base, s):
            plan = plan_copies(
                read.documents,
                {d.id for d in todo},
                None if rebuild else w.base,
                removed,
                s.ingest.near_duplicates,
            )
            copies = {d.id for d in plan.as_copies}
            todo = [d for d in todo if d.id not in copies] + plan.to_embed
            for d in plan.as_copies:
                w.put(d, [], _no_vectors(), [])
            reads = {d.id: d for d in read.documents}
            for d in plan.new_copies:
                role = plan.roles[d.id]
                base = None if rebuild else w.base
                rep = plan.origin_of(role.of, reads, base)
                same = plan.origin_of(role.same_as or role.of, reads, base)
                report.copies.append(copy_notice(d, role, rep, same))
        fingerprint = {**fingerprint, "near_duplicates": s.ingest.near_duplicates}

        enc: Encoder | None = None
        embedding: dict[str, Any] | None = w.base.manifest["embedding"] if w.base else None
        done.todo = len(todo)
        if todo:
            enc = encoder or encoder_for(s, None if rebuild else w.base and w.base.manifest)
            embedding = {"model": s.embedding.model, "dim": enc.dim, "backend": enc.backend}
            if cluster is not None:  # chunked on Ray
                planned = list(zip(todo, cluster.chunk(todo, s, enc.path), strict=True))
            else:
                chunker = Chunker(enc.counter(), _chunk_params(s))
                planned = [(d, chunker.chunk(d)) for d in todo]
            if progress.on_start:
                progress.on_start(sum(len(c) for _, c in planned))
            last_commit = time.monotonic()
            put_docs = 0
            with stop.deferred():  # a signal stops between batches, after publishing them
                batches = list(_batches(planned, EMBED_BATCH_CHUNKS))
                groups = [embed_inputs(batch, s) for batch in batches]
                encoded = encode_groups(groups, s, enc, cluster, progress.on_advance)
                for b_no, (batch, (texts, _), (vectors, sentence_vectors)) in enumerate(
                    zip(batches, groups, encoded, strict=True), 1
                ):
                    report.chunks_embedded += len(texts)
                    i = 0
                    for d, chunks in batch:
                        n = len(chunks)
                        w.put(d, chunks, vectors[i : i + n], sentence_vectors[i : i + n])
                        i += n
                    put_docs += len(batch)
                    due = time.monotonic() - last_commit >= s.index.commit_every_s
                    last = b_no == len(batches)
                    if (due or stop.pending is not None) and not rebuild and not last:
                        # publish progress; a rebuild publishes once, at the end
                        report.generation = w.commit(fingerprint, embedding)
                        done.committed = put_docs
                        last_commit = time.monotonic()
                    if not last:  # a signal during the last batch: finish, it is all there
                        stop.check()
        if embedding is None:  # a new index with nothing to embed still records its model
            enc = encoder or encoder_for(s)
            embedding = {"model": s.embedding.model, "dim": enc.dim, "backend": enc.backend}
        if (
            w.changed
            or w.base is None
            or rebuild
            or inputs != recorded
            or _threshold_changed(w.base, s)
        ):
            with stop.deferred():  # a signal now: the work is done, publish it all
                report.generation = w.commit(fingerprint, embedding)
        elif report.generation is None:
            report.generation = w.base.generation
        report.new_skipped = skiplog.update(w.dir, read.skipped)
    report.seconds = time.perf_counter() - t0
    return report


def _threshold_changed(base: StoredIndex | None, s: Settings) -> bool:
    """The near-duplicate threshold differs from the one the index was clustered with."""
    if base is None:
        return False
    return base.manifest.get("settings", {}).get("near_duplicates") != s.ingest.near_duplicates


def _no_vectors() -> Any:
    import numpy as np

    return np.zeros((0, 0), dtype=np.float32)


def encoder_for(
    s: Settings, manifest: dict[str, Any] | None = None, *, for_queries: bool = False
) -> Encoder:
    """The encoder for these settings and this index: with backend `auto`, the one that
    built the index (a new index gets onnx-int8); a different explicit one is refused."""
    backend = s.embedding.backend
    built = (manifest or {}).get("embedding", {}).get("backend")
    if built and backend != "auto" and backend != built:
        raise IndexMismatchError(
            f"index {s.index.dir} was embedded with backend {built!r} but the settings say "
            f"{backend!r}; use RAG_EMBEDDING__BACKEND=auto, or rebuild with `rag ingest --rebuild`"
        )
    return get_encoder(
        s.embedding.model, built or backend, s.embedding.cache_dir, for_queries=for_queries
    )


EMBED_BATCH_CHUNKS = 64  # chunks embedded between chances to publish progress


def _batches(
    planned: list[tuple[Document, list[Chunk]]], size: int
) -> Iterator[list[tuple[Document, list[Chunk]]]]:
    """Whole documents, grouped until a group holds at least `size` chunks."""
    batch: list[tuple[Document, list[Chunk]]] = []
    n = 0
    for item in planned:
        batch.append(item)
        n += len(item[1])
        if n >= size:
            yield batch
            batch, n = [], 0
    if batch:
        yield batch


def _chunk_params(s: Settings) -> ChunkParams:
    return ChunkParams(
        max_tokens=s.chunking.max_tokens,
        overlap_tokens=s.chunking.overlap_tokens,
        header=s.chunking.header,
    )
