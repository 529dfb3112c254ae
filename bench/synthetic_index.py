"""A synthetic index of about N chunks in the project's own store format, made from a real one.

The real index (MultiHop-RAG's 609 articles, 7,489 chunks, built by `rag ingest`) is
compacted into one segment, then copied as replicas until N chunks: replica k's document
and chunk ids end in `~k`, its published dates move back k days (so date filters select
a slice, as in a real archive), its chunk vectors are convex mixtures of real ones (a
chunk, one of its 10 nearest real neighbours and a random chunk, Dirichlet(4, 2, 1)
weights, σ 0.01 noise, renormalised: see bench/scale.py), its texts, sentence vectors
and BM25 postings are the real ones. Each replica is a segment, published as an ingest
publishes them; then the writer's own merge policy (index.merge_factor) merges them, as
a long ingest would have: the result has the segments a 1M-chunk index really has
(a large one, a few medium, a few small).

It is built once into a folder (`--scale-index`) and reused.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import load


def mixtures(real: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.01) -> np.ndarray:
    import faiss

    d = real.shape[1]
    nn = faiss.IndexFlatIP(d)
    nn.add(real)
    _, neigh = nn.search(real, 11)
    a = np.arange(n) % len(real)  # every real chunk has its own replica
    b = neigh[a, rng.integers(1, 11, size=n)]
    c = rng.integers(len(real), size=n)
    w = rng.dirichlet((4.0, 2.0, 1.0), size=n).astype(np.float32)
    x = w[:, :1] * real[a] + w[:, 1:2] * real[b] + w[:, 2:] * real[c]
    x += rng.normal(0, noise, size=x.shape).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def build(real_index: Path, out: Path, n: int, merge_factor: int = 10, seed: int = 0) -> None:
    """Write a synthetic index of about `n` chunks into `out` (see the module docstring)."""
    from rag.store import IndexWriter, open_index
    from rag.store.integrity import describe_files, sealed_json
    from rag.store.layout import _write_atomic, link_tree, save_npy

    t0 = time.perf_counter()
    base = out.parent / (out.name + ".base")
    if not (base / "CURRENT").is_file():
        shutil.copytree(real_index, base, copy_function=shutil.copy2)
        with IndexWriter(base, merge_factor=0) as w:
            w.compact()
    src = open_index(base)
    [seg] = src.manifest["segments"]
    seg_dir = src.path / seg["name"]
    real = np.asarray(src.vectors, dtype=np.float32)
    copies = max(1, round(n / len(real)))
    rng = np.random.default_rng(seed)
    shutil.rmtree(out, ignore_errors=True)
    gen = out / "gen-000001"
    gen.mkdir(parents=True)
    segs: list[dict[str, Any]] = []
    files: dict[str, Any] = {}
    for k in range(copies):
        name = f"seg-{k + 1:06d}"
        dst = gen / name
        link_tree(seg_dir, dst)  # texts, sentence vectors and postings are the real ones
        (dst / "chunks.sqlite").unlink()
        (dst / "vectors.npy").unlink()
        (dst / "index.faiss").unlink(missing_ok=True)
        shutil.copy(seg_dir / "chunks.sqlite", dst / "chunks.sqlite")
        con = sqlite3.connect(dst / "chunks.sqlite")
        suffix = f"~{k}"
        con.execute("UPDATE docs SET id = id || ?", (suffix,))
        con.execute(
            "UPDATE docs SET published_at = date(published_at, ?) || substr(published_at, 11) "
            "WHERE published_at IS NOT NULL AND date(published_at) IS NOT NULL",
            (f"-{k} days",),
        )
        con.execute("UPDATE chunks SET id = doc_id || ? || substr(id, length(doc_id) + 1), "
                    "doc_id = doc_id || ?", (suffix, suffix))  # fmt: skip
        con.execute("UPDATE flags SET doc_id = doc_id || ?", (suffix,))
        con.commit()
        con.execute("VACUUM")
        con.close()
        save_npy(dst / "vectors.npy", mixtures(real, len(real), rng))
        meta = dict(seg, name=name, faiss={"type": "flat"}, deleted=[], deleted_chunks=0)
        segs.append(meta)
        files.update(describe_files(dst, prefix=name + "/"))
    m = dict(src.manifest)
    chunks = sum(s["chunks"] for s in segs)
    m.update(
        generation="gen-000001",
        segments=segs,
        next_segment=copies + 1,
        counts={
            "documents": sum(s["documents"] for s in segs),
            "chunks": chunks,
            "sentences": sum(s["sentences"] for s in segs),
            "segments": copies,
        },
        faiss={"type": "segments", "nprobe": 16},
        injection=dict(
            src.manifest["injection"], flagged=src.manifest["injection"]["flagged"] * copies
        ),
        inputs=[],
        files=files,
    )
    (gen / "manifest.json").write_text(sealed_json(m), encoding="utf-8")
    _write_atomic(out / "CURRENT", "gen-000001\n")
    print(f"  {copies} replicas of {len(real):,} chunks as segments: {chunks:,} chunks in "
          f"{time.perf_counter() - t0:.0f} s  ({load()})", flush=True)  # fmt: skip
    t1 = time.perf_counter()
    with IndexWriter(
        out, merge_factor=merge_factor, background_merge=False, verify_up_to_mb=0
    ) as w:
        rounds = w.settle()
        sizes = [s["chunks"] for s in w.base.manifest["segments"]] if w.base else []
    print(f"  merged as ingests merge ({rounds} merges, merge_factor {merge_factor}): "
          f"{len(sizes)} segments {sizes} in {time.perf_counter() - t1:.0f} s  ({load()})",
          flush=True)  # fmt: skip
    json.dumps(sizes)
