#!/usr/bin/env bash
# MultiHop-RAG retrieval benchmark: the figures of the paper's Table 5 for our retriever.
#
#   bench/multihop_eval.sh              # ingest corpus.json into index/multihop (once), then
#                                       # the retrieval-only eval of queries-dev.json
#
# Scoring is MultiHop-RAG's (see data README): null queries excluded (their retrieval
# metrics are null), white space removed, a chunk is relevant when a gold fact is a
# substring of it; Hits@4, Hits@10, MRR@10 and MAP@10 (the paper's form) over the top 10.
# The ingest is incremental: a second run embeds nothing. The eval's wall time is printed
# on its own (ingest excluded). Environment: MULTIHOP_DATA, INDEX, OUT, RAG.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${MULTIHOP_DATA:-../shared/data/multihop-rag}
INDEX=${INDEX:-index/multihop}
OUT=${OUT:-runs/multihop-dev-$(date +%Y%m%d-%H%M%S)}
RAG=${RAG:-.venv/bin/rag}
PY=${PY:-.venv/bin/python}

for f in "$DATA/corpus.json" "$DATA/queries-dev.json"; do
  [[ -f $f ]] || { echo "missing $f; set MULTIHOP_DATA to the folder holding it" >&2; exit 2; }
done

echo "# ingest $DATA/corpus.json → $INDEX" >&2
t0=$(date +%s.%N)
"$RAG" ingest "$DATA/corpus.json" --index "$INDEX" -q >&2
t1=$(date +%s.%N)

echo "# retrieval-only eval of $DATA/queries-dev.json → $OUT" >&2
"$RAG" eval "$DATA/queries-dev.json" --format multihop-rag --index "$INDEX" \
  --retrieval-only --out "$OUT" -q >&2
t2=$(date +%s.%N)

"$PY" - "$OUT/report.json" "$t0" "$t1" "$t2" <<'EOF'
import json, os, platform, sys, time

report = json.load(open(sys.argv[1]))
t0, t1, t2 = map(float, sys.argv[2:5])
cfg = report["config"]
print(f"# MultiHop-RAG dev, retrieval only, {time.strftime('%Y-%m-%d')}, "
      f"{platform.machine()}, {os.cpu_count()} cores")
print(f"# index {cfg['index']} ({cfg['embedding_model']}, chunks {cfg['chunking']}), "
      f"{report['counts']['retrieval']['hit@10']} scored queries of {report['n']}")
print(f"# ingest {t1 - t0:.1f} s (0 when the index is up to date); "
      f"eval wall time {t2 - t1:.1f} s (process start, model load and writing the report "
      f"included; retrieval {report['timing']['retrieval_ms_per_query']} ms/query)")
print()
print("| queries | n | MRR@10 | MAP@10 | Hits@10 | Hits@4 |")
print("|---|---|---|---|---|---|")
rows = [("all", report)] + sorted(report["per_type"].items())
for name, src in rows:
    r, n = src["retrieval"], src["counts"]["retrieval"]["hit@10"]
    if n == 0:
        continue
    ci = src["intervals"]["retrieval"]
    cells = []
    for k in ("mrr@10", "map@10", "hit@10", "hit@4"):
        lo, hi = ci[k]
        cells.append(f"{r[k]:.4f} [{lo:.3f}, {hi:.3f}]")
    print(f"| {name} | {n} | " + " | ".join(cells) + " |")
print()
print(f"report: {os.path.dirname(sys.argv[1])}/report.html")
EOF
