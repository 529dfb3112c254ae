"""Ablation of retrieval on MultiHop-RAG's dev split: each component switched off in turn.

    python bench/multihop_ablation.py [--index index/multihop] [--out runs/ablation]

Runs `rag eval --retrieval-only` once per configuration (settings given as RAG_RETRIEVAL__*
environment variables, so each run is exactly what a user gets with those settings) and
prints a Markdown table of Hits@4, Hits@10, MRR@10 and MAP@10 over the non-null queries.
Build the index first (bench/multihop_eval.sh does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = {
    "full: hybrid + query understanding + sub-queries + learned reranker": {},
    "− learned reranker (fused score, sub-query interleaving, caps)": {"RERANKER": "fusion"},
    "− query understanding (sources, dates as metadata)": {"QUERY_PARSING": "false"},
    "− sub-queries (per named article, per question part)": {"DECOMPOSE": "false"},
    "− dense (BM25 only)": {"MODE": "lexical"},
    "− reranker − per-article caps": {"RERANKER": "fusion", "DIVERSIFY": "false"},
    "− reranker − understanding − sub-queries − caps (plain fusion)": {
        "RERANKER": "fusion",
        "QUERY_PARSING": "false",
        "DECOMPOSE": "false",
        "DIVERSIFY": "false",
    },
    "dense only (FAISS top-k, the first version)": {"MODE": "dense"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--index", default="index/multihop")
    ap.add_argument(
        "--queries", default=str(ROOT.parent / "shared/data/multihop-rag/queries-dev.json")
    )
    ap.add_argument("--out", default="runs/ablation")
    ap.add_argument("--only", help="run only configurations whose name contains this")
    args = ap.parse_args()
    rag = Path(sys.executable).parent / "rag"
    rows = []
    for name, env in RUNS.items():
        if args.only and args.only not in name:
            continue
        out = Path(args.out) / f"{len(rows):02d}"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        e = {k: v for k, v in os.environ.items() if not k.startswith("RAG_RETRIEVAL__")}
        e.update({f"RAG_RETRIEVAL__{k}": v for k, v in env.items()})
        t0 = time.perf_counter()
        cmd = [str(rag), "eval", args.queries, "--format", "multihop-rag", "--index", args.index]
        cmd += ["--retrieval-only", "--out", str(out), "-q"]
        subprocess.run(cmd, env=e, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        r = json.loads((out / "report.json").read_text())["retrieval"]
        rows.append((name, r, seconds))
        print(f"{name}: {_cells(r)} ({seconds:.0f} s)", file=sys.stderr, flush=True)
    day = time.strftime("%Y-%m-%d")
    print(f"\nMultiHop-RAG dev, retrieval only, non-null queries, top-10 ({day})\n")
    print("| configuration | Hits@4 | Hits@10 | MRR@10 | MAP@10 | eval wall time |")
    print("|---|---|---|---|---|---|")
    for name, r, seconds in rows:
        print(f"| {name} | {_cells(r, ' | ')} | {seconds:.0f} s |")


def _cells(r: dict, sep: str = " ") -> str:
    return sep.join(f"{r[k]:.3f}" for k in ("hit@4", "hit@10", "mrr@10", "map@10"))


if __name__ == "__main__":
    main()
