"""`python bench/scale.py --store`: the store's commit and the whole pipeline at scale
(see bench/scale.py for what is measured and how the synthetic index is made)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from common import load, median, pct

MULTIHOP = Path("/work/shared/data/multihop-rag")


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MB."""
    now = peak = float("nan")
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return now, peak


def store_bench(a: Any) -> None:
    from synthetic_index import build

    from rag.store import open_index

    out = Path(a.scale_index)
    if a.rebuild or not (out / "CURRENT").is_file():
        print(f"\n## building the synthetic index in {out} ({load()})", flush=True)
        build(Path(a.real_index), out, a.n)
    idx = open_index(out, verify_up_to_mb=0)
    sizes = [s["chunks"] for s in idx.manifest["segments"]]
    nbytes = sum(int(f.get("bytes", 0)) for f in idx.manifest["files"].values())
    print(f"\nsynthetic index {out}: {idx.n_chunks:,} chunks, {len(idx.docs()):,} documents, "
          f"{len(sizes)} segments {sizes}, {nbytes / 1e9:.2f} GB on disk")  # fmt: skip
    idx.close()
    commit_bench(a, out)
    pipeline_bench(a, out)


def _new_docs(real_index: Path, chunks: int) -> list[tuple[Any, ...]]:
    """Real documents (text, chunks, vectors, sentence vectors) of about `chunks` chunks,
    under new ids."""
    import numpy as np

    from rag.ingest.run import stored_document
    from rag.store import open_index

    src = open_index(real_index, verify_up_to_mb=0)
    vectors = np.asarray(src.vectors)
    out, n = [], 0
    for doc_id in list(src.docs())[::7]:
        rows = src.chunks_of(doc_id)
        pos = [p for p, _ in rows]
        d = stored_document(src, doc_id)
        d.id = f"{doc_id}~new"
        chunks_ = [c for _, c in rows]
        for c in chunks_:
            c.doc_id, c.id = d.id, c.id.replace(doc_id, d.id, 1)
        out.append((d, chunks_, vectors[pos], src.sentence_vectors_at(pos)))
        n += len(rows)
        if n >= chunks:
            break
    return out


def commit_bench(a: Any, scale_index: Path) -> None:
    from rag.store import IndexWriter, open_index

    docs = _new_docs(Path(a.real_index), 1000)
    n = sum(len(d[1]) for d in docs)
    print(f"\n## one commit of {n:,} chunks ({len(docs)} articles), store only ({load()})")
    for label, index in (("MultiHop index", Path(a.real_index)), ("synthetic index", scale_index)):
        work = index.parent / (index.name + ".commit")
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(index, work, copy_function=_link)  # the same files, as a new folder
        before = open_index(work, verify_up_to_mb=0)
        size, segs = before.n_chunks, len(before.manifest["segments"])
        before.close()
        t0 = time.perf_counter()
        with IndexWriter(work, verify_up_to_mb=0, merge_factor=10) as w:
            t_open = time.perf_counter() - t0
            t1 = time.perf_counter()
            for d in docs:
                w.put(*d)
            assert w.base is not None
            w.commit(dict(w.base.manifest["settings"]), dict(w.base.manifest["embedding"]))
            t_commit = time.perf_counter() - t1
            merging = w._merge.names if w._merge is not None else []
            t2 = time.perf_counter()
        t_exit = time.perf_counter() - t2
        after = json.loads(
            (work / (work / "CURRENT").read_text().strip() / "manifest.json").read_text()
        )
        print(f"  {label}: {size:,} chunks in {segs} segments → commit {t_commit:.2f} s "
              f"(writer open {t_open:.2f} s); background merge of {len(merging)} segments "
              f"then published on close: {t_exit:.1f} s; now {after['counts']['chunks']:,} "
              f"chunks in {len(after['segments'])} segments  ({load()})", flush=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


def _link(src: str, dst: str) -> None:
    import os

    os.link(src, dst)


def pipeline_bench(a: Any, index: Path) -> None:
    import numpy as np

    from rag.config import load_settings
    from rag.ingest.update import encoder_for
    from rag.retrieve import Retriever
    from rag.store import open_index

    qs = [q["query"] for q in json.loads((MULTIHOP / "queries-dev.json").read_text())]
    rng = np.random.default_rng(a.seed)
    qs = [qs[i] for i in rng.choice(len(qs), size=min(a.queries, len(qs)), replace=False)]
    s = load_settings(index={"dir": index})
    rss0 = rss_mb()[0]
    t0 = time.perf_counter()
    idx = open_index(index, verify_up_to_mb=0)
    enc = encoder_for(s, idx.manifest, for_queries=True)
    r = Retriever(idx, enc, s.retrieval)
    t_load = time.perf_counter() - t0
    rss1 = rss_mb()[0]
    print(f"\n## whole pipeline (Retriever.search, top {s.retrieval.top_k}), {len(qs)} MultiHop "
          f"dev questions one at a time ({load()})")  # fmt: skip
    print(f"  open + searcher: {t_load:.1f} s, RSS {rss0:.0f} → {rss1:.0f} MB", flush=True)
    for q in qs[:3]:  # warm-up: the model, first reads
        r.search(q, s.retrieval.top_k)
    ms = []
    for q in qs:
        t = time.perf_counter()
        hits = r.search(q, s.retrieval.top_k)
        ms.append((time.perf_counter() - t) * 1000)
        assert hits
    now, peak = rss_mb()
    print(f"  p50 {median(ms):.1f} ms, p95 {pct(ms, 95):.1f} ms, max {max(ms):.1f} ms; "
          f"RSS {now:.0f} MB (peak {peak:.0f} MB)  ({load()})", flush=True)  # fmt: skip
