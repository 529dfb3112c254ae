"""Search at scale: FAISS exact vs approximate indexes on a synthetic index shaped like ours.

Data. Real chunk vectors come from an index built by `rag ingest` over the MultiHop-RAG
articles (`--real-index`; built once if missing). The `--n` synthetic vectors are random
convex mixtures of real ones — a base chunk, one of its 10 nearest real neighbours and
one random chunk, weights ~ Dirichlet(4, 2, 1) — plus small Gaussian noise (σ per
dimension `--noise`), renormalised: they stay on the manifold real MiniLM vectors live on
(isotropic random vectors are a degenerate worst case for graph indexes; never used here).
Queries are the real MultiHop-RAG questions embedded by the project's query encoder,
slightly perturbed (σ `--query-noise`). The script prints how the synthetic data compares
with the real (top-1 / top-10 query scores) so the shape can be judged.

Measured, one query per `search` call (as `rag ask` searches), with 1 and 2 OpenMP
threads (alternating rounds), top-10:
  flat   IndexFlatIP at several sizes (prefixes of the data): where exact search crosses
         `--target-ms`, the size above which the project should switch to an approximate
         index;
  hnsw   IndexHNSWFlat for each M:efConstruction in `--hnsw`, efSearch swept;
  hnswsq IndexHNSWSQ (8-bit scalar quantiser) with the first `--hnsw` pair (`--sq8`);
  ivf    IndexIVFFlat, nlist `--ivf-nlist`, nprobe swept (`--ivf`).
For each: build seconds (2 threads), index bytes (serialised size) and RSS growth,
latency p50/p95 per query and recall@10 against exact search. Memory: the data lives
once, inside the flat index; one approximate index is built at a time, then freed.

With `--store`, the whole product instead of FAISS alone, on a synthetic index of `--n`
chunks in the store's own format (bench/synthetic_index.py: replicas of the MultiHop-RAG
index as segments, merged as ingests merge them; built once into `--scale-index`):
  commit    one commit adding 1,000 real chunks (80-odd articles, with their vectors)
            to that index, and the same commit to the 7,489-chunk MultiHop index: the
            store's cost (embedding them costs the same at any size: bench/ingest_speed.py)
  pipeline  `Retriever.search` (parse, lexical and dense candidates, features, reranker,
            the rows read back) for real MultiHop-RAG dev questions, one at a time:
            p50/p95, the process's memory (RSS, and the peak) after loading and searching

Usage:
  python bench/scale.py --store --n 1000000       # ≈ 30-40 min to build once, then minutes
  python bench/scale.py --n 100000                # quick (≈ 2 min after the real index)
  python bench/scale.py                           # 1M vectors (≈ 1.5 GB each index;
                                                  # ≈ 30 min on 2 busy cores)
  python bench/scale.py --hnsw 32:80,32:200 --sq8 --ivf --queries 300
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from common import header, load, median, offline, pct

MULTIHOP = Path("/work/shared/data/multihop-rag")
K = 10


def rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def index_bytes(index: object) -> int:
    """Serialised size of a FAISS index, counted without keeping a copy."""
    import faiss

    total = 0

    def count(buf: bytes) -> int:
        nonlocal total
        total += len(buf)
        return len(buf)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total


# --------------------------------------------------------------------------- data


def real_vectors(index_dir: Path, corpus: Path) -> tuple[object, dict]:
    """Chunk vectors and manifest of a `rag ingest` index of `corpus` (built if missing)."""

    import numpy as np

    if not (index_dir / "CURRENT").is_file():
        rag = str(Path(sys.executable).parent / "rag")
        cmd = [rag, "ingest", str(corpus), "--index", str(index_dir), "-q"]
        print(f"building the real index: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        print(f"  {time.perf_counter() - t0:.0f} s  ({load()})")
    from rag.store import open_index

    idx = open_index(index_dir, verify_up_to_mb=0)
    return np.ascontiguousarray(idx.vectors, dtype=np.float32), idx.manifest


def query_vectors(manifest: dict, n: int, seed: int) -> object:
    """Real MultiHop-RAG questions, embedded as `rag ask` embeds them."""
    import json

    from rag.config import load_settings
    from rag.embed import get_encoder

    s = load_settings()
    qs = [q["query"] for q in json.loads((MULTIHOP / "queries-dev.json").read_text())]
    import numpy as np

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(qs), size=min(n, len(qs)), replace=False)
    enc = get_encoder(
        manifest["embedding"]["model"],
        manifest["embedding"]["backend"],
        s.embedding.cache_dir,
        for_queries=True,
    )
    return enc.encode([qs[i] for i in pick], batch_size=64)


def normalise(x: object) -> object:
    import numpy as np

    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic_flat(real: object, n: int, noise: float, seed: int) -> object:
    """IndexFlatIP holding `n` mixtures of real vectors (added in blocks of 100k)."""
    import faiss
    import numpy as np

    rng = np.random.default_rng(seed)
    d = real.shape[1]
    nn = faiss.IndexFlatIP(d)
    nn.add(real)
    _, neigh = nn.search(real, 11)  # column 0 is the vector itself
    flat = faiss.IndexFlatIP(d)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a = rng.integers(len(real), size=m)
        b = neigh[a, rng.integers(1, 11, size=m)]
        c = rng.integers(len(real), size=m)
        w = rng.dirichlet((4.0, 2.0, 1.0), size=m).astype(np.float32)
        x = w[:, :1] * real[a] + w[:, 1:2] * real[b] + w[:, 2:] * real[c]
        x += rng.normal(0, noise, size=x.shape).astype(np.float32)
        flat.add(normalise(x))
    return flat


def data_view(flat: object) -> object:
    """The vectors inside a flat index, as a numpy view (no copy)."""
    import faiss

    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)


# --------------------------------------------------------------------------- timing


def time_queries(index: object, queries: object, threads: int) -> tuple[list[float], object]:
    """Per-query latency (ms) of one-query searches, and the top-10 ids."""
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(threads)
    ids = np.empty((len(queries), K), dtype=np.int64)
    ms = []
    for i in range(len(queries)):
        q = queries[i : i + 1]
        t0 = time.perf_counter()
        _, found = index.search(q, K)
        ms.append((time.perf_counter() - t0) * 1000)
        ids[i] = found[0]
    return ms, ids


def recall(ids: object, truth: object) -> float:
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ids, truth, strict=True))
    return hits / truth.size


def sweep(
    label: str,
    index: object,
    set_param: Callable[[int], None],
    values: list[int],
    queries: object,
    truth: object,
    rounds: int,
    threads: list[int],
) -> list[dict]:
    """Latency and recall for each parameter value; rounds alternate values and threads."""
    runs: dict[tuple[int, int], list[float]] = {(v, t): [] for v in values for t in threads}
    rec: dict[int, float] = {}
    for r in range(rounds):
        order = [(v, t) for v in values for t in threads]
        if r % 2:
            order.reverse()
        for v, t in order:
            set_param(v)
            ms, ids = time_queries(index, queries, t)
            runs[(v, t)] += ms
            rec[v] = recall(ids, truth)
    rows = []
    for v in values:
        row = {"label": label, "param": v, "recall": rec[v]}
        for t in threads:
            row[f"p50_{t}"] = median(runs[(v, t)])
            row[f"p95_{t}"] = pct(runs[(v, t)], 95)
        rows.append(row)
        lat = "  ".join(
            f"{t}T p50 {row[f'p50_{t}']:7.2f} p95 {row[f'p95_{t}']:7.2f} ms" for t in threads
        )
        print(f"  {label:<26} {v:>5}  recall@10 {rec[v]:.3f}  {lat}", flush=True)
    print(f"  ({load()})")
    return rows


def build(label: str, make: Callable[[], object], flat: object) -> tuple[object, dict]:
    import faiss

    faiss.omp_set_num_threads(2)
    before = rss_mb()
    t0 = time.perf_counter()
    index = make()
    secs = time.perf_counter() - t0
    info = {
        "label": label,
        "build_s": secs,
        "bytes": index_bytes(index),
        "rss_mb": rss_mb() - before,
        "n": flat.ntotal,
    }
    print(
        f"\n{label}: built in {secs:.1f} s (2 threads), {info['bytes'] / 2**20:.0f} MiB "
        f"serialised ({info['bytes'] / flat.ntotal:.0f} B/vector), RSS +{info['rss_mb']:.0f} MiB"
        f"  ({load()})",
        flush=True,
    )
    return index, info


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic vectors")
    ap.add_argument("--queries", type=int, default=300, help="queries per measurement")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per sweep")
    ap.add_argument("--threads", default="1,2", help="OpenMP thread counts to compare")
    ap.add_argument("--hnsw", default="32:80,32:200", help="M:efConstruction pairs ('' = none)")
    ap.add_argument("--ef-search", default="16,32,64,128,256,512")
    ap.add_argument("--sq8", action="store_true", help="also HNSW with 8-bit scalar quantiser")
    ap.add_argument("--ivf", action="store_true", help="also IndexIVFFlat")
    ap.add_argument("--ivf-nlist", type=int, default=0, help="0: power of 2 near sqrt(n)")
    ap.add_argument("--nprobe", default="4,8,16,32,64")
    ap.add_argument(
        "--flat-sizes", default="10000,20000,50000,100000,200000,500000,1000000",
        help="sizes (≤ n) at which exact search latency is measured",
    )  # fmt: skip
    ap.add_argument("--flat-queries", type=int, default=100, help="queries per flat size")
    ap.add_argument("--target-ms", type=float, default=10.0)
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--noise", type=float, default=0.01, help="σ per dimension of the mixtures")
    ap.add_argument("--query-noise", type=float, default=0.005)
    ap.add_argument("--real-index", default="/tmp/rag-bench-multihop-index")
    ap.add_argument("--corpus", default=str(MULTIHOP / "corpus.json"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", action="store_true", help="the store and the whole pipeline")
    ap.add_argument("--scale-index", default="/tmp/rag-scale-index", help="synthetic index")
    ap.add_argument("--rebuild", action="store_true", help="build the synthetic index again")
    a = ap.parse_args()
    offline()
    if a.store:
        header(f"scale: the store and the whole pipeline, {a.n:,} synthetic chunks", sys.argv)
        from scale_store import store_bench

        real_vectors(Path(a.real_index), Path(a.corpus))  # builds the real index if missing
        store_bench(a)
        return
    header(f"scale: FAISS exact vs approximate, {a.n:,} synthetic vectors", sys.argv)
    import faiss
    import numpy as np

    threads = [int(t) for t in a.threads.split(",")]
    real, manifest = real_vectors(Path(a.real_index), Path(a.corpus))
    q_real = query_vectors(manifest, a.queries, a.seed)
    rng = np.random.default_rng(a.seed + 1)
    queries = normalise(q_real + rng.normal(0, a.query_noise, q_real.shape))
    print(
        f"real: {real.shape[0]} chunk vectors from {a.real_index} "
        f"({manifest['embedding']['backend']}); {len(queries)} queries; "
        f"cos(query, perturbed) median {np.median(np.sum(q_real * queries, axis=1)):.4f}"
    )

    t0 = time.perf_counter()
    flat = synthetic_flat(real, a.n, a.noise, a.seed)
    xb = data_view(flat)
    print(f"synthetic: {flat.ntotal:,} vectors in {time.perf_counter() - t0:.1f} s  ({load()})")

    faiss.omp_set_num_threads(2)
    t0 = time.perf_counter()
    s_syn, truth = flat.search(queries, K)
    real_ix = faiss.IndexFlatIP(real.shape[1])
    real_ix.add(real)
    s_real, _ = real_ix.search(queries, K)
    nearest_real, _ = real_ix.search(xb[: min(20_000, a.n)], 1)
    print(f"exact top-10 for all queries: {time.perf_counter() - t0:.1f} s (batched)")
    print("shape check (median over queries)    top-1 score  top-10 score  top1-top10 gap")
    for name, s in ((f"real chunks ({len(real):,})", s_real), (f"synthetic ({a.n:,})", s_syn)):
        top1, top10 = np.median(s[:, 0]), np.median(s[:, -1])
        gap = np.median(s[:, 0] - s[:, -1])
        print(f"  {name:<34} {top1:.3f}        {top10:.3f}         {gap:.3f}")
    print(
        f"  synthetic vector vs its nearest real chunk: cosine median "
        f"{np.median(nearest_real):.3f}, p5 {np.percentile(nearest_real, 5):.3f}"
    )

    # -- exact search latency by size
    print(f"\n## exact search (IndexFlatIP), {a.flat_queries} single queries per size")
    flat_rows = []
    for size in [int(x) for x in a.flat_sizes.split(",") if int(x) <= a.n]:
        if size == a.n:
            sub = flat
        else:
            sub = faiss.IndexFlatIP(flat.d)
            sub.add(xb[:size])
        rows = sweep(
            "flat", sub, lambda _: None, [size], queries[: a.flat_queries],
            sub.search(queries[: a.flat_queries], K)[1], a.rounds, threads,
        )  # fmt: skip
        flat_rows += rows
        del sub
    report_crossover(flat_rows, threads, a.target_ms)

    results: list[tuple[dict, list[dict]]] = []
    ef_values = [int(x) for x in a.ef_search.split(",")]
    pairs = [tuple(int(v) for v in p.split(":")) for p in a.hnsw.split(",") if p]
    for m, efc in pairs:

        def make_hnsw(m: int = m, efc: int = efc) -> object:
            ix = faiss.IndexHNSWFlat(flat.d, m, faiss.METRIC_INNER_PRODUCT)
            ix.hnsw.efConstruction = efc
            ix.add(xb)
            return ix

        label = f"HNSWFlat M={m} efC={efc}"
        ix, info = build(label, make_hnsw, flat)
        rows = sweep(
            label + " efSearch", ix, lambda v, ix=ix: setattr(ix.hnsw, "efSearch", v),
            ef_values, queries, truth, a.rounds, threads,
        )  # fmt: skip
        results.append((info, rows))
        del ix
    if a.sq8 and pairs:
        m, efc = pairs[0]

        def make_sq() -> object:
            qt = faiss.ScalarQuantizer.QT_8bit
            ix = faiss.IndexHNSWSQ(flat.d, qt, m, faiss.METRIC_INNER_PRODUCT)
            ix.hnsw.efConstruction = efc
            ix.train(xb[:: max(1, a.n // 100_000)])
            ix.add(xb)
            return ix

        label = f"HNSWSQ8 M={m} efC={efc}"
        ix, info = build(label, make_sq, flat)
        rows = sweep(
            label + " efSearch", ix, lambda v, ix=ix: setattr(ix.hnsw, "efSearch", v),
            ef_values, queries, truth, a.rounds, threads,
        )  # fmt: skip
        results.append((info, rows))
        del ix
    if a.ivf:
        nlist = a.ivf_nlist or 2 ** round(np.log2(np.sqrt(a.n)))

        def make_ivf() -> object:
            quant = faiss.IndexFlatIP(flat.d)
            ix = faiss.IndexIVFFlat(quant, flat.d, nlist, faiss.METRIC_INNER_PRODUCT)
            ix.train(xb[:: max(1, a.n // (64 * nlist))])
            ix.add(xb)
            return ix  # faiss's Python layer keeps `quant` alive with the index

        label = f"IVFFlat nlist={nlist}"
        ix, info = build(label, make_ivf, flat)
        rows = sweep(
            label + " nprobe", ix, lambda v, ix=ix: setattr(ix, "nprobe", v),
            [int(x) for x in a.nprobe.split(",")], queries, truth, a.rounds, threads,
        )  # fmt: skip
        results.append((info, rows))
        del ix
    summary(results, threads, a)


def report_crossover(rows: list[dict], threads: list[int], target: float) -> None:
    for t in threads:
        pts = [(r["param"], r[f"p50_{t}"]) for r in rows]
        cross = None
        for (n0, ms0), (n1, ms1) in itertools.pairwise(pts):
            if ms0 <= target < ms1:  # linear interpolation between the two sizes
                cross = n0 + (target - ms0) * (n1 - n0) / (ms1 - ms0)
        per_m = [ms / n * 1e6 for n, ms in pts if n >= 50_000]
        slope = f"; {median(per_m):.1f} ms per million vectors" if per_m else ""
        where = f"≈ {cross:,.0f} vectors" if cross else "not crossed in the sizes measured"
        print(f"  exact p50 crosses {target:g} ms with {t} thread(s): {where}{slope}")


def summary(results: list[tuple[dict, list[dict]]], threads: list[int], a: object) -> None:
    print(
        f"\n## summary, n = {a.n:,}: cheapest setting with recall@10 ≥ {a.target_recall} "
        f"(target p50 ≤ {a.target_ms:g} ms)"
    )
    for info, rows in results:
        ok = [r for r in rows if r["recall"] >= a.target_recall]
        head = (
            f"  {info['label']:<26} build {info['build_s']:6.1f} s, "
            f"{info['bytes'] / 2**20:6.0f} MiB: "
        )
        if not ok:
            best = max(rows, key=lambda r: r["recall"])
            print(f"{head}never reached; best recall {best['recall']:.3f} at {best['param']}")
            continue
        r = ok[0]
        t = threads[0]
        print(
            f"{head}param {r['param']}, recall {r['recall']:.3f}, p50 {r[f'p50_{t}']:.2f} ms, "
            f"p95 {r[f'p95_{t}']:.2f} ms ({t} thread) → p50 is "
            f"{r[f'p50_{t}'] / a.target_ms:.2f}x of the target"
        )
    print(f"  ({load()})")


if __name__ == "__main__":
    main()
