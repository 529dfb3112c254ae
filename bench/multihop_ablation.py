"""Ablation of retrieval in two settings: each component switched off in turn.

    python bench/multihop_ablation.py [--index index/multihop] [--mixed index/mixed]
                                      [--out runs/ablation]

Runs `rag eval --retrieval-only` per configuration (settings given as RAG_RETRIEVAL__*
environment variables, so each run is exactly what a user gets with those settings) on
MultiHop-RAG's dev split (Hits@4, Hits@10, MRR@10, MAP@10 over the non-null queries) and,
beside it, on the bundled dev questions asked of the mixed index (the two bundled articles
inside the MultiHop corpus: plain questions where most articles are off-topic; MRR@10 and
MAP@10). Prints one Markdown table. Build the indexes first (bench/multihop_eval.sh,
bench/mixed_index.py); without the mixed index its columns are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import load  # noqa: E402

RUNS = {
    "full: hybrid + query understanding + sub-queries + learned reranker": {},
    "learned reranker on every question, not only those naming a source (before #17)": {
        "LEARNED_SCOPE": "all"
    },
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
    ap.add_argument("--mixed", default="index/mixed", help="the mixed index")
    ap.add_argument("--bundled", default=str(ROOT / "data/gold/bundled-dev.jsonl"))
    ap.add_argument("--out", default="runs/ablation")
    ap.add_argument("--only", help="run only configurations whose name contains this")
    args = ap.parse_args()
    rag = Path(sys.executable).parent / "rag"
    rows = []
    for name, env in RUNS.items():
        if args.only and args.only not in name:
            continue
        out = Path(args.out) / f"{len(rows):02d}"
        e = {k: v for k, v in os.environ.items() if not k.startswith("RAG_RETRIEVAL__")}
        e.update({f"RAG_RETRIEVAL__{k}": v for k, v in env.items()})
        t0 = time.perf_counter()
        r = _eval(rag, [args.queries, "--format", "multihop-rag", "--index", args.index], out, e)
        seconds = time.perf_counter() - t0
        mixed = None
        if Path(args.mixed, "CURRENT").is_file():
            mixed = _eval(rag, [args.bundled, "--index", args.mixed], out / "mixed", e)
        rows.append((name, r, mixed, seconds))
        print(f"{name}: {_cells(r)} | {_cells(mixed, keys=MIXED)} ({seconds:.0f} s, {load()})",
              file=sys.stderr, flush=True)  # fmt: skip
    day = time.strftime("%Y-%m-%d")
    with_mixed = any(m for _, _, m, _ in rows)
    print(f"\nRetrieval only, top-10 ({day}, {load()}). MultiHop-RAG dev: non-null queries on "
          f"{args.index}" + (f"; bundled dev on the mixed index {args.mixed}" if with_mixed else "")
          + "\n")  # fmt: skip
    head = "| configuration | Hits@4 | Hits@10 | MRR@10 | MAP@10 | MultiHop eval wall time |"
    line = "|---|---|---|---|---|---|"
    if with_mixed:
        head += " bundled dev, mixed: MRR@10 | MAP@10 |"
        line += "---|---|"
    print(head)
    print(line)
    for name, r, mixed, seconds in rows:
        row = f"| {name} | {_cells(r, ' | ')} | {seconds:.0f} s |"
        if with_mixed:
            row += f" {_cells(mixed, ' | ', MIXED)} |"
        print(row)


MIXED = ("mrr@10", "map@10")


def _eval(rag: Path, args: list[str], out: Path, env: dict[str, str]) -> dict | None:
    if out.exists():
        shutil.rmtree(out)
    cmd = [str(rag), "eval", *args, "--retrieval-only", "--out", str(out), "-q"]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "report.json").read_text())["retrieval"]


def _cells(
    r: dict | None, sep: str = " ", keys: tuple[str, ...] = ("hit@4", "hit@10", "mrr@10", "map@10")
) -> str:
    return sep.join(f"{r[k]:.3f}" if r else "–" for k in keys)


if __name__ == "__main__":
    main()
