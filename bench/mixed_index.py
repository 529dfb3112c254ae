"""Build the mixed index once: the bundled articles inside the MultiHop-RAG corpus.

    python bench/mixed_index.py [--out index/mixed] [--multihop index/multihop]

The second evaluation setting of every ranking change (issue #17): a user's own articles
(the two in data/articles) among 609 others, so an index past the learned reranker's
1,000 chunks where most articles are off the question's topic. Bundled questions are
scored here with `rag eval data/gold/bundled-dev.jsonl --index index/mixed`; MultiHop
questions still score as on index/multihop (the bundled articles add 8 chunks).

When `--multihop` names a built MultiHop-RAG index (bench/multihop_eval.sh builds one; a
copy of /work/cache/multihop-index does too), it is copied and only the bundled articles
are embedded (seconds); otherwise corpus.json is ingested too (about 5 CPU-minutes). A
second run with the index in place does nothing (`--rebuild` starts again).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import header, load, offline  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default="index/mixed")
    ap.add_argument("--multihop", default="index/multihop", help="a built MultiHop-RAG index")
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared/data/multihop-rag/corpus.json"))
    ap.add_argument("--articles", default=str(ROOT / "data/articles"))
    ap.add_argument("--rebuild", action="store_true", help="remove --out first")
    args = ap.parse_args()
    offline()
    header("mixed index: bundled articles + MultiHop-RAG corpus", sys.argv)
    out, mh = Path(args.out), Path(args.multihop)
    rag = str(Path(sys.executable).parent / "rag")
    if args.rebuild and out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    if not out.exists():
        if (mh / "CURRENT").is_file():
            print(f"copying {mh} → {out}", flush=True)
            shutil.copytree(mh, out, ignore=shutil.ignore_patterns("READY", "*.lock"))
        else:
            if not Path(args.corpus).is_file():
                sys.exit(
                    f"bench/mixed_index.py: no MultiHop index at {mh} and no corpus at "
                    f"{args.corpus}; pass --multihop or --corpus"
                )
            print(f"ingesting {args.corpus} → {out} (about 5 CPU-minutes)", flush=True)
            subprocess.run([rag, "ingest", args.corpus, "--index", str(out), "-q"], check=True)
    # incremental: only the bundled articles are embedded (nothing when already there)
    subprocess.run([rag, "ingest", args.articles, "--index", str(out), "-q"], check=True)
    from rag.store import open_index

    idx = open_index(out)
    print(
        f"{out}: {len(idx.docs())} articles, {idx.n_chunks} chunks, ready in "
        f"{time.perf_counter() - t0:.0f} s ({load()})"
    )


if __name__ == "__main__":
    main()
