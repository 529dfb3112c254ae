"""Warm ask: latency of questions in a long-running process (chat app, API server).

One `rag.api.Pipeline` over an index of the bundled articles (built with `rag ingest`
into a temporary folder unless `--index` is given), offline answerer. After one warm-up
ask per question (which opens the index and loads the query encoder; timed apart), each
round asks every question once per arm, the arms' order alternating between rounds:
  ask, fresh     `Pipeline.ask` with the retriever's recent-question cache emptied first,
                 so the question is embedded again (a new question);
  ask, repeat    `Pipeline.ask` of a question asked before (its vector is cached);
  retrieve       `Pipeline.retrieve` only, cache emptied first (embed + search + rows);
  … 1 thread     the two fresh arms again with FAISS limited to one OpenMP thread (the
                 project leaves FAISS at its default, one thread per core; on a busy
                 machine a one-query search then waits for a descheduled thread).
Prints p50/p95 per arm (target for a warm ask: p50 ≤ 50 ms) and the answer's own
`timings_ms` split. Questions: the demo question and the first `--questions` - 1 of
data/gold/bundled-dev.jsonl.

Usage:
  python bench/warm_ask.py [--rounds 30] [--questions 6] [--index DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import header, load, median, offline, pct

ROOT = Path(__file__).resolve().parent.parent
DEMO = "why did Russia lift the ban"


def questions(n: int) -> list[str]:
    gold = ROOT / "data" / "gold" / "bundled-dev.jsonl"
    rows = [json.loads(line) for line in gold.read_text().splitlines() if line.strip()]
    return [DEMO, *(r["question"] for r in rows[: max(0, n - 1)])]


def run(a: argparse.Namespace, index: Path) -> None:
    from rag.api import Pipeline
    from rag.config import load_settings

    qs = questions(a.questions)
    t0 = time.perf_counter()
    p = Pipeline(load_settings(index={"dir": index}, llm={"model": "offline"}))
    first = p.ask(qs[0])
    t_first = (time.perf_counter() - t0) * 1000
    for q in qs[1:]:
        p.ask(q)
    describe = p.describe()
    print(
        f"index {index}: {describe['documents']} documents, {describe['chunks']} chunks; "
        f"{len(qs)} questions, {a.rounds} rounds\n"
        f"first ask in this process (Pipeline() + open index + load encoder + answer): "
        f"{t_first:.0f} ms\n"
        f"demo answer: abstained={first.abstained}, {len(first.citations)} citation(s): "
        f"{first.text[:100]!r}…"
    )

    retriever = p.retriever()
    cache = getattr(retriever, "_recent", None)  # the recent-question vector cache

    def forget() -> None:
        if cache is not None:
            cache.clear()

    if cache is None:
        print("note: Retriever has no `_recent` cache here; 'fresh' arms equal 'repeat'")

    import faiss

    timings: dict[str, list[float]] = {}  # the answer's own split, per FAISS thread count

    def ask_fresh(q: str) -> None:
        forget()
        ans = p.ask(q)
        for k in ("retrieve", "generate"):
            key = f"{k} (faiss {faiss.omp_get_max_threads()}T)"
            timings.setdefault(key, []).append(float(ans.timings_ms.get(k, float("nan"))))

    def retrieve(q: str) -> None:
        forget()
        p.retrieve(q)

    default_threads = faiss.omp_get_max_threads()

    def one_thread(f: Callable[[str], None]) -> Callable[[str], None]:
        def call(q: str) -> None:
            faiss.omp_set_num_threads(1)
            try:
                f(q)
            finally:
                faiss.omp_set_num_threads(default_threads)

        return call

    arms: dict[str, Callable[[str], object]] = {
        "ask, fresh question": ask_fresh,
        "ask, repeated question": p.ask,
        "retrieve only, fresh": retrieve,
        "ask, fresh, faiss 1 thread": one_thread(ask_fresh),
        "retrieve, faiss 1 thread": one_thread(retrieve),
    }
    ms: dict[str, list[float]] = {k: [] for k in arms}
    for r in range(a.rounds):
        order = list(arms) if r % 2 == 0 else list(reversed(arms))
        for q in qs:
            for name in order:
                t0 = time.perf_counter()
                arms[name](q)
                ms[name].append((time.perf_counter() - t0) * 1000)
        if (r + 1) % 10 == 0 or r + 1 == a.rounds:
            print(f"  round {r + 1}/{a.rounds}  ({load()})", flush=True)
    n = len(ms[DEMO_ARM])
    print(f"\nFAISS OpenMP threads by default: {default_threads}")
    print(f"{'arm':<28} {'p50 ms':>8} {'p95 ms':>8} {'min':>7}   (n = {n} each)")
    for name, v in ms.items():
        print(f"{name:<28} {median(v):8.2f} {pct(v, 95):8.2f} {min(v):7.2f}")
    split = ", ".join(f"{k} p50 {median(v):.2f} ms" for k, v in timings.items())
    print(f"fresh ask, the answer's own timings_ms: {split}")
    warm = median(ms[DEMO_ARM])
    print(
        f"warm ask (fresh question) p50 {warm:.2f} ms vs target ≤ 50 ms → {warm / 50:.2f}x "
        f"of target  ({load()})"
    )


DEMO_ARM = "ask, fresh question"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--questions", type=int, default=6, help="demo question + N-1 gold ones")
    ap.add_argument("--index", help="an existing index (default: build the bundled one)")
    a = ap.parse_args()
    offline()
    header("warm ask (long-running Pipeline, offline answerer)", sys.argv)
    if a.index:
        run(a, Path(a.index))
        return
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        index = Path(tmp) / "index"
        rag = str(Path(sys.executable).parent / "rag")
        subprocess.run([rag, "ingest", "--index", str(index), "-q"], check=True)
        run(a, index)


if __name__ == "__main__":
    main()
