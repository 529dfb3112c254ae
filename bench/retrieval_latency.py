"""Retrieval latency per question on the MultiHop-RAG index, one question at a time.

    python bench/retrieval_latency.py [--index index/multihop] [--n 300]

What a user of `rag ask` or the chat waits for retrieval: each question searched alone
(embedding included, no batching) with the default settings, after one warm-up. Prints
p50 / p95 / mean in ms for the full hybrid retrieval and, side by side (alternating),
for plain dense FAISS top-k (`retrieval.mode = dense`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag import api  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--index", default="index/multihop")
    ap.add_argument(
        "--queries", default=str(ROOT.parent / "shared/data/multihop-rag/queries-dev.json")
    )
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    qs = [q["query"] for q in json.loads(Path(args.queries).read_text())][: args.n]
    arms = {
        "hybrid + learned reranker (default)": api.Pipeline(
            api.load_settings(index={"dir": args.index})
        ),
        "dense FAISS top-k only": api.Pipeline(
            api.load_settings(index={"dir": args.index}, retrieval={"mode": "dense"})
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in arms}
    for p in arms.values():
        p.retrieve("warm up the model and the index", top_k=10)
    for q in qs:
        for name, p in arms.items():
            t0 = time.perf_counter()
            p.retrieve(q, top_k=10)
            times[name].append((time.perf_counter() - t0) * 1000)
    n = arms["dense FAISS top-k only"].index().n_chunks
    print(
        f"# retrieval latency, {len(qs)} MultiHop-RAG questions one at a time, {n} chunks, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    for name, t in times.items():
        t.sort()
        p95 = t[int(0.95 * (len(t) - 1))]
        print(
            f"{name:38s} p50 {statistics.median(t):6.1f} ms   p95 {p95:6.1f} ms   "
            f"mean {statistics.fmean(t):6.1f} ms"
        )


if __name__ == "__main__":
    main()
