"""A small local LLM behind llama.cpp's OpenAI-compatible server, measured end to end.

    .venv/bin/python bench/local_llm.py [--gguf F.gguf] [--server-python PY]
        [--bundled 50] [--multihop 100] [--arms 4,0] [--out runs/local_llm.jsonl]

Starts `python -m llama_cpp.server` (llama-cpp-python, from a venv OUTSIDE the project:
it is never a dependency of the product or of CI) on 127.0.0.1 with the GGUF, then asks
the bundled dev questions (data/gold/bundled-dev.jsonl, index of the bundled articles)
and a seeded sample of MultiHop-RAG dev questions (index/multihop, or --multihop-index)
through `rag` as `openai/qwen` with `api_base`, streamed like `rag ask`. It prints, per
set: strict accuracy (yes/no: the first yes/no word; other answerable: containment;
unanswerable: abstained), key-point recall (gold `points`; without them each question's
answer aliases are its one point), the share of claim sentences cited to a passage that
supports them, how many claim sentences are neither supported nor flagged (must be 0),
time to first token and time per answer (medians), prompt tokens.

Defaults (override with flags or RAG_BENCH_GGUF / RAG_BENCH_LLAMA_PYTHON):
/work/cache/llm/qwen2.5-coder-1.5b-q4_k_m.gguf and /work/cache/llm/venv/bin/python, built
as README's "Local models" section says. Compare prompt trimming with
`--arms 4,0`: each question with trimmed (4 sentences a passage) and whole passages,
back to back, so both see the same load. `--rescore FILE` scores recorded answers again.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import header, load, offline  # noqa: E402

offline()

GGUF = os.environ.get("RAG_BENCH_GGUF", "/work/cache/llm/qwen2.5-coder-1.5b-q4_k_m.gguf")
SERVER_PY = os.environ.get("RAG_BENCH_LLAMA_PYTHON", "/work/cache/llm/venv/bin/python")
SHARED = next(
    (p for p in (ROOT.parent / "shared", Path("/work/shared")) if p.is_dir()),
    ROOT.parent / "shared",
)


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """llama-cpp-python's server as a child process on 127.0.0.1 (stopped on exit)."""

    def __init__(self, python: str, gguf: str, log: Path, threads: int = 2) -> None:
        for p, what in ((python, "--server-python"), (gguf, "--gguf")):
            if not Path(p).exists():
                raise SystemExit(f"error: {p} not found; pass {what} (README: Local models)")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/v1"
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("w")
        cmd = [python, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--n_ctx", "8192", "--n_threads", str(threads)]
        cmd += ["--model_alias", "qwen"]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"error: the llama.cpp server exited; see {log}")
            try:
                with urllib.request.urlopen(self.base + "/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(1)
        self.stop()
        raise SystemExit(f"error: the llama.cpp server did not start in 300 s; see {log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


# --------------------------------------------------------------------------- scoring

_YESNO = re.compile(r"\b(yes|no)\b", re.I)


def _norm(s: str) -> str:
    from rag.eval import metrics

    return metrics.normalize(metrics.strip_markers(s))


def contains(text: str, aliases: list[str]) -> bool:
    t = f" {_norm(text)} "
    return any(f" {_norm(a)} " in t for a in aliases if _norm(a))


def strict(item: dict[str, Any], text: str, abstained: bool) -> bool:
    answers = item["answers"]
    if not answers:
        return abstained
    if abstained:
        return False
    gold = {a.strip().lower() for a in answers}
    if gold <= {"yes", "no"}:
        m = _YESNO.search(text)
        return bool(m) and m.group(1).lower() in gold
    return contains(text, answers)


def key_points(item: dict[str, Any], text: str, abstained: bool) -> float | None:
    if not item["answers"]:
        return None
    points = item.get("points") or [item["answers"]]
    if abstained:
        return 0.0
    return sum(contains(text, p) for p in points) / len(points)


# --------------------------------------------------------------------------- sets


def bundled_items(path: Path, n: int) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return rows[:n]


def multihop_items(n: int, seed: int = 12) -> list[dict[str, Any]]:
    q = json.loads((SHARED / "data/multihop-rag/queries-dev.json").read_text(encoding="utf-8"))
    out = []
    for i, x in enumerate(q):
        ans = x["answer"].strip()
        answers = [] if x["question_type"] == "null_query" else [ans]
        out.append(
            {"id": f"mh{i}", "question": x["query"], "answers": answers, "type": x["question_type"]}
        )
    return random.Random(seed).sample(out, n)


def run_set(
    name: str, items: list[dict[str, Any]], settings: Any, arms: list[int], out: Any
) -> list[dict]:
    """Each question once per arm (passage_sentences), arms back to back: the machine's
    load is then the same for both."""
    recs = []
    for k, it in enumerate(items, 1):
        for arm in arms:
            llm = settings.llm.model_copy(update={"passage_sentences": arm})
            rec = _ask(name, it, settings.model_copy(update={"llm": llm}), arm)
            recs.append(rec)
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()
            print(
                f"  {name} {k}/{len(items)} arm {arm}: ttft {rec['ttft_s'] or 0:.1f}s "
                f"total {rec['total_s']:.1f}s strict {int(rec['strict'])} "
                f"supported {rec['supported']}/{rec['claims']}  load {load()}",
                flush=True,
            )
    return recs


_PIPES: dict[str, Any] = {}


def _ask(name: str, it: dict[str, Any], settings: Any, arm: int) -> dict[str, Any]:
    from rag.api import Delta, Final, Pipeline, Retrieved

    key = str(settings.index.dir)
    p = _PIPES.get(key)
    if p is None:
        p = _PIPES[key] = Pipeline(settings)
    t0 = time.perf_counter()
    first = None
    answer = None
    t_answer = t0
    for ev in p.ask_stream(it["question"], llm=settings.llm):
        if isinstance(ev, Retrieved):
            t_answer = time.perf_counter()
        elif isinstance(ev, Delta) and first is None and ev.text.strip():
            first = time.perf_counter() - t_answer
        elif isinstance(ev, Final):
            answer = ev.answer
    total = time.perf_counter() - t0
    assert answer is not None
    claims = [s for s in answer.sentences if s.claim]
    return {
        "set": name,
        "arm": arm,
        "id": it["id"],
        "type": it.get("type"),
        "question": it["question"],
        "answer": answer.text,
        "draft": answer.raw_text,
        "abstained": answer.abstained,
        "strict": strict(it, answer.text, answer.abstained),
        "key_points": key_points(it, answer.text, answer.abstained),
        "claims": len(claims),
        "supported": sum(s.supported and bool(s.citations) for s in claims),
        "neither": sum(not s.supported and bool(s.citations) for s in claims),
        "draft_markers": len(re.findall(r"\[\d", answer.raw_text)),
        "ttft_s": first,
        "total_s": total,
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
    }


def summary(name: str, recs: list[dict]) -> None:
    def med(key: str) -> str:
        v = [r[key] for r in recs if r[key] is not None]
        return f"{statistics.median(v):.1f}" if v else "—"

    kp = [r["key_points"] for r in recs if r["key_points"] is not None]
    claims = sum(r["claims"] for r in recs)
    sup = sum(r["supported"] for r in recs)
    print(
        f"{name:<10} n={len(recs):<4} strict {sum(r['strict'] for r in recs) / len(recs):.3f}  "
        f"key points {sum(kp) / len(kp) if kp else float('nan'):.3f}  "
        f"cited+supported {sup}/{claims} = {sup / claims if claims else float('nan'):.3f}  "
        f"neither {sum(r['neither'] for r in recs)}  "
        f"drafts with markers {sum(r['draft_markers'] > 0 for r in recs)}/{len(recs)}  "
        f"abstained {sum(r['abstained'] for r in recs)}  "
        f"ttft p50 {med('ttft_s')} s  answer p50 {med('total_s')} s  "
        f"prompt tokens p50 {med('prompt_tokens')}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", default=GGUF)
    ap.add_argument("--server-python", default=SERVER_PY)
    ap.add_argument("--api-base", help="use this running server instead of starting one")
    ap.add_argument("--bundled", type=int, default=50, help="bundled dev questions (0: none)")
    ap.add_argument("--multihop", type=int, default=100, help="MultiHop-RAG dev questions")
    ap.add_argument("--gold", type=Path, default=ROOT / "data/gold/bundled-dev.jsonl")
    ap.add_argument("--multihop-index", type=Path, default=ROOT / "index/multihop")
    ap.add_argument("--bundled-index", type=Path, default=ROOT / "index/bundled-bench")
    ap.add_argument(
        "--arms",
        default="4",
        help="passage_sentences values to compare, e.g. 4,0 (0: whole passages); "
        "each question is asked once per arm, back to back",
    )
    ap.add_argument("--skip", type=int, default=0, help="start at this bundled question")
    ap.add_argument(
        "--max-tokens", type=int, default=None, help="cap answers (16: time to first token only)"
    )
    ap.add_argument(
        "--deadline-s",
        type=float,
        default=1200,
        help="give up on an answer after this long (a shared 2-core machine at load 20 "
        "needs more than 1200 s for a 1,700-token prompt)",
    )
    ap.add_argument("--rescore", type=Path, help="re-score a records file with today's gold")
    ap.add_argument("--top-k", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "runs/local_llm.jsonl")
    args = ap.parse_args()
    header("local LLM through llama.cpp's OpenAI-compatible server", sys.argv)
    arms = [int(x) for x in args.arms.split(",")]
    if args.rescore:
        rescore(args.rescore, args.gold)
        return

    import signal

    from rag.api import ingest
    from rag.config import load_settings
    from rag.resources import articles_dir

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    server = None
    if args.api_base is None:
        server = LlamaServer(args.server_python, args.gguf, args.out.with_suffix(".server.log"))
    base = args.api_base or server.base  # type: ignore[union-attr]
    print(f"server {base} (gguf {args.gguf}); load {load()}", flush=True)
    llm = {
        "model": "openai/qwen",
        "api_base": base,
        "api_key": "no-key",
        "timeout_s": args.deadline_s / 2,
        "deadline_s": args.deadline_s,
        "max_retries": 0,
        "max_tokens": args.max_tokens,
    }
    retrieval = {"top_k": args.top_k}
    results: dict[str, list[dict]] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with args.out.open("w", encoding="utf-8") as out:
            if args.bundled:
                idx = args.bundled_index
                if not (idx / "CURRENT").exists():
                    ingest([articles_dir()], load_settings(index={"dir": idx}))
                s = load_settings(index={"dir": idx}, llm=llm, retrieval=retrieval)
                items = bundled_items(args.gold, args.skip + args.bundled)[args.skip :]
                results["bundled"] = run_set("bundled", items, s, arms, out)
            if args.multihop:
                if not (args.multihop_index / "CURRENT").exists():
                    raise SystemExit(
                        f"error: no index at {args.multihop_index}; copy "
                        "/work/cache/multihop-index there or pass --multihop-index"
                    )
                s = load_settings(index={"dir": args.multihop_index}, llm=llm, retrieval=retrieval)
                results["multihop"] = run_set(
                    "multihop", multihop_items(args.multihop), s, arms, out
                )
    finally:
        if server is not None:
            server.stop()
    print(f"load {load()}; records in {args.out}")
    for name, recs in results.items():
        for arm in arms:
            summary(f"{name}/{arm}", [r for r in recs if r["arm"] == arm])


def rescore(path: Path, gold: Path) -> None:
    """Strict accuracy and key points again, from recorded answers (gold may have gained
    `points` since); MultiHop records keep their scores."""
    golds = {g["id"]: g for g in bundled_items(gold, 10_000)}
    recs = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    for r in recs:
        g = golds.get(r["id"]) if r["set"] == "bundled" else None
        if g is not None:
            r["strict"] = strict(g, r["answer"], r["abstained"])
            r["key_points"] = key_points(g, r["answer"], r["abstained"])
    for key in sorted({(r["set"], r["arm"]) for r in recs}):
        summary(f"{key[0]}/{key[1]}", [r for r in recs if (r["set"], r["arm"]) == key])


if __name__ == "__main__":
    main()
