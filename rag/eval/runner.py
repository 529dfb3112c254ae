"""Runs a gold set through the product's pipeline and writes the run folder.

The run folder (`--out`, default `runs/<gold-stem>-<timestamp>`) holds
    config.json   what was run (gold file hash, index generation, model, top-k, ...)
    items.jsonl   one line per finished question, appended and flushed as it finishes
    report.json   the aggregate (see `report`), written at the end
    report.html   the same, for people
An interrupted run keeps every finished item; `resume=True` skips the ids already in
items.jsonl and refuses to continue a run whose config differs (naming the difference).

Each question goes through `rag.api.Pipeline` as `rag ask` does: the question is checked
(`check_question`), retrieved with the index's retriever and answered from the first
top-k hits by `answer_stream`. Retrieval keeps max(10, top-k) hits so that retrieval
metrics always see a top 10. Retrieval-only runs batch the queries (`search_many`).
Retrieval stays in the calling thread; LLM answers and judge calls run in a bounded
pool of `concurrency` workers.

What it does not do: print. Progress goes to the `Hooks` callbacks.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InputError, UsageError
from rag.eval import metrics
from rag.eval.datasets import FORMATS, GoldItem, check_sources, file_sha256, load_gold
from rag.eval.support import support_scores

CONFIG_FILE = "config.json"
ITEMS_FILE = "items.jsonl"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
RUN_FORMAT = 1
# questions handed to `search_many` at once: it searches blocks of 64 on every core, so a
# batch must hold a few blocks per core for the cores to be busy (and it is what a Ctrl-C
# may lose, so not the whole set)
RETRIEVAL_BATCH = 256
# config keys that may differ between an interrupted run and its resumption
_RESUME_FREE = frozenset({"gold", "concurrency", "started", "judge_cache"})


@dataclass
class EvalOptions:
    """The `rag eval` flags."""

    gold: Path
    fmt: str = "jsonl"
    index: Path | None = None
    model: str | None = None
    top_k: int | None = None
    retrieval_only: bool = False
    limit: int | None = None
    concurrency: int = 4
    out: Path | None = None
    resume: bool = False
    judge: str | None = None
    judge_api_base: str | None = None
    judge_cache: Path | None = None
    batch_size: int = RETRIEVAL_BATCH
    seed: int = 0
    resamples: int = 1000


@dataclass
class Hooks:
    """Callbacks a face may pass (all optional)."""

    on_start: Callable[[int, int], None] | None = None  # (total items, already done)
    on_item: Callable[[dict[str, Any]], None] | None = None  # after an item is written
    on_notice: Callable[[str], None] | None = None


@dataclass
class RunResult:
    out: Path
    report: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0  # items taken from an earlier, interrupted run


def default_out(gold: Path) -> Path:
    return Path("runs") / f"{gold.stem}-{time.strftime('%Y%m%d-%H%M%S')}"


# --------------------------------------------------------------------------- items.jsonl


def read_items(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Records of an items.jsonl. A last line without its newline was cut off by a killed
    run: it is ignored (and with `repair` removed from the file). A bad line elsewhere is
    an error naming the line."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1  # bytes up to the last newline
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(data[:complete].split(b"\n")[:-1], 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            rec = None
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            raise InputError(f"{path}:{i}: not an item record; remove the line or start a new run")
        out.append(rec)
    if repair and complete < len(data):
        with open(path, "r+b") as f:
            f.truncate(complete)
    return out


class ItemWriter:
    """Appends records to items.jsonl, one flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, rec: dict[str, Any]) -> None:
        self._f.write(json.dumps(rec, ensure_ascii=False, allow_nan=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


# --------------------------------------------------------------------------- run


def run_eval(opts: EvalOptions, hooks: Hooks | None = None) -> RunResult:
    """Evaluate `opts.gold`; returns the report. KeyboardInterrupt keeps finished items."""
    from rag.api import Pipeline
    from rag.config import load_settings

    hooks = hooks or Hooks()
    if opts.resume and opts.out is None:
        raise UsageError("--resume needs --out RUN_DIR: the folder of the run to continue")
    if opts.limit is not None and opts.limit < 1:
        raise UsageError(f"--limit {opts.limit} is out of range; use 1 or more")
    if opts.concurrency < 1:
        raise UsageError(f"--concurrency {opts.concurrency} is out of range; use 1 or more")
    if opts.fmt not in FORMATS:
        raise UsageError(f"unknown --format {opts.fmt!r}; use one of {', '.join(FORMATS)}")
    if opts.retrieval_only and opts.judge:
        raise UsageError("--judge grades answers; drop it or drop --retrieval-only")

    settings = load_settings(
        index={"dir": opts.index},
        llm={"model": opts.model},
        retrieval={"top_k": opts.top_k},
    )
    items = load_gold(opts.gold, opts.fmt)
    if opts.limit is not None:
        items = items[: opts.limit]
    pipe = Pipeline(settings)
    top_k = settings.retrieval.top_k
    if not 1 <= top_k <= settings.limits.max_top_k:
        raise UsageError(f"--top-k {top_k} is out of range; use 1 to {settings.limits.max_top_k}")
    if opts.index is None:
        pipe.ensure_index(notice=hooks.on_notice)
    idx = pipe.index()  # IndexNotFoundError names the folder and the fix
    check_sources(items, set(idx.docs()), opts.gold, pipe.index_dir)
    for it in items:
        try:
            pipe.check_question(it.question, top_k)
        except UsageError as e:
            raise InputError(f"{opts.gold}:{it.line}: {e}") from None

    config = _config(opts, settings, idx, items)
    out = opts.out or default_out(opts.gold)
    done = _prepare_out(out, config, opts.resume)
    done_ids = {r["id"] for r in done}
    known = {it.id for it in items}
    stray = sorted(done_ids - known)
    if stray:
        raise InputError(
            f"{out / ITEMS_FILE} holds item {stray[0]!r}, which is not in the gold set; "
            "start a new run (another --out)"
        )
    todo = [it for it in items if it.id not in done_ids]
    if hooks.on_start:
        hooks.on_start(len(items), len(items) - len(todo))

    judge = None
    if opts.judge:
        from rag.eval.judge import Judge, JudgeCache, judge_settings

        cache = JudgeCache(opts.judge_cache or out.parent / "judge-cache.sqlite")
        judge = Judge(judge_settings(settings.llm, opts.judge, opts.judge_api_base), cache)

    runner = _Runner(pipe, top_k, opts, judge)
    if todo:  # load the encoder now, so the first question's latency is not the model load
        pipe.retriever().encoder.encode(["warm-up"])
    writer = ItemWriter(out / ITEMS_FILE)
    new: list[dict[str, Any]] = []

    def emit(rec: dict[str, Any]) -> None:
        writer.write(rec)
        new.append(rec)
        if hooks.on_item:
            hooks.on_item(rec)

    t0 = time.perf_counter()
    try:
        if opts.retrieval_only:
            runner.retrieval_only(todo, emit)
        else:
            runner.full(todo, emit)
    finally:
        writer.close()
        if judge is not None:
            judge.cache.close()
    wall = time.perf_counter() - t0

    from rag.eval.report import build_report, write_reports

    records = sorted([*done, *new], key=lambda r: (r.get("pos", 0), r["id"]))
    extra: dict[str, Any] = {
        "timing": {
            "wall_s": round(wall, 3),
            "items_this_session": len(new),
            "resumed_items": len(done),
            "retrieval_ms_per_query": _mean_key(records, "retrieve_ms"),
        }
    }
    if judge is not None:
        extra["judge_run"] = {"model": judge.model, **judge.stats.to_dict()}
    report = build_report(records, config, seed=opts.seed, resamples=opts.resamples, extra=extra)
    write_reports(out, report, records)
    return RunResult(out, report, records, resumed=len(done))


def _mean_key(records: Sequence[dict[str, Any]], key: str) -> float | None:
    m = metrics.mean([r.get(key) for r in records])
    return None if m is None else round(m, 3)


def _config(opts: EvalOptions, settings: Any, idx: Any, items: Sequence[GoldItem]) -> dict:
    from rag.eval.judge import correct_template, support_template

    cfg: dict[str, Any] = {
        "run_format": RUN_FORMAT,
        "gold": str(opts.gold),
        "gold_sha256": file_sha256(Path(opts.gold)),
        "format": opts.fmt,
        "n_gold": len(items),
        "limit": opts.limit,
        "index": str(Path(settings.index.dir)),
        "index_generation": idx.generation,
        "embedding_model": idx.manifest.get("embedding", {}).get("model"),
        "chunking": {
            k: idx.manifest.get("settings", {}).get(k)
            for k in ("max_tokens", "overlap_tokens", "header")
        },
        "model": settings.llm.model,
        # every retrieval setting, so `rag eval compare` runs can be told apart
        "retrieval": settings.retrieval.model_dump(mode="json"),
        "top_k": settings.retrieval.top_k,
        "retrieve_k": max(metrics.RANK_CUTOFF, settings.retrieval.top_k),
        "retrieval_only": opts.retrieval_only,
        "judge": opts.judge,
        "concurrency": opts.concurrency,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if opts.judge:
        cfg["judge_prompts"] = {t.name: t.version for t in (correct_template(), support_template())}
    return cfg


def _prepare_out(out: Path, config: dict[str, Any], resume: bool) -> list[dict[str, Any]]:
    items_path = out / ITEMS_FILE
    cfg_path = out / CONFIG_FILE
    if not resume:
        if items_path.exists() or cfg_path.exists():
            raise InputError(
                f"{out} already holds a run; continue it with --resume or pick another --out"
            )
        out.mkdir(parents=True, exist_ok=True)
        _write_json(cfg_path, config)
        return []
    if not cfg_path.is_file():
        raise InputError(f"{out} holds no run to resume ({CONFIG_FILE} missing); drop --resume")
    try:
        old = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise InputError(f"{cfg_path} is unreadable ({e}); start a new run") from None
    diff = config_diff(old, config)
    if diff:
        raise InputError(
            f"cannot resume {out}: its config differs ({'; '.join(diff)}); rerun with the "
            "same flags or start a new run (another --out)"
        )
    return read_items(items_path, repair=True)


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The settings that differ, as `key: old → new` (keys free to change are skipped)."""
    out = []
    for k in sorted(set(old) | set(new)):
        if k in _RESUME_FREE:
            continue
        a, b = old.get(k), new.get(k)
        if a != b:
            out.append(f"{k}: {json.dumps(a)} → {json.dumps(b)}")
    return out


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the work


@dataclass
class _Retrieved:
    item: GoldItem
    query: str
    hits: list[Any]
    retrieve_ms: float


class _Runner:
    def __init__(self, pipe: Any, top_k: int, opts: EvalOptions, judge: Any) -> None:
        self.pipe = pipe
        self.top_k = top_k
        self.opts = opts
        self.judge = judge
        self.retrieve_k = max(metrics.RANK_CUTOFF, top_k, pipe.settings.retrieval.broad_top_k)
        self.offline = pipe.settings.llm.model == "offline"

    # -- retrieval only: batched
    def retrieval_only(self, todo: Sequence[GoldItem], emit: Callable[[dict], None]) -> None:
        retriever = self.pipe.retriever()
        bs = max(1, self.opts.batch_size)
        for start in range(0, len(todo), bs):
            batch = todo[start : start + bs]
            queries = [self.pipe.check_question(it.question, self.top_k) for it in batch]
            t0 = time.perf_counter()
            results = retriever.search_many(queries, self.retrieve_k)
            ms = (time.perf_counter() - t0) * 1000 / len(batch)
            for it, hits in zip(batch, results, strict=True):
                emit(_record(it, hits, None, ms, None))

    # -- full: retrieve here, answer (and judge) here or in the pool
    def full(self, todo: Sequence[GoldItem], emit: Callable[[dict], None]) -> None:
        use_pool = not self.offline or self.judge is not None
        if not use_pool:
            for it in todo:
                r = self._retrieve(it)
                emit(self._finish(r, self._answer(r)))
            return
        limit = self.opts.concurrency
        pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="rag-eval")
        pending: set[Future[dict[str, Any]]] = set()

        def harvest(block: bool) -> None:
            nonlocal pending
            if not pending:
                return
            done, pending = wait(pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
            for f in _ordered(done):
                emit(f.result())

        try:
            for it in todo:
                r = self._retrieve(it)
                if self.offline:  # the offline answerer runs here; the judge in the pool
                    ans = self._answer(r)
                    pending.add(pool.submit(self._finish, r, ans))
                else:
                    pending.add(pool.submit(lambda r=r: self._finish(r, self._answer(r))))
                harvest(block=False)
                while len(pending) >= 2 * limit:
                    harvest(block=True)
            while pending:
                harvest(block=True)
        except BaseException:
            # keep what finished, drop what has not started
            for f in list(pending):
                f.cancel()
            finished = [
                f for f in pending if f.done() and not f.cancelled() and f.exception() is None
            ]
            for f in _ordered(finished):
                emit(f.result())
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _retrieve(self, it: GoldItem) -> _Retrieved:
        t0 = time.perf_counter()
        q = self.pipe.check_question(it.question, self.top_k)
        hits = self.pipe.retriever().search(q, self.retrieve_k)
        return _Retrieved(it, q, hits, (time.perf_counter() - t0) * 1000)

    def _answer(self, r: _Retrieved) -> Any:
        from rag.generate import collect

        t0 = time.perf_counter()
        shown = r.hits[: self.pipe.depth(r.query, self.opts.top_k)]
        events = self.pipe.answer_stream(r.query, shown, stream=False)
        ans = collect(events)
        ans.question = r.item.question
        ans.timings_ms["retrieve"] = r.retrieve_ms
        ans.timings_ms["total"] = r.retrieve_ms + (time.perf_counter() - t0) * 1000
        return ans

    def _finish(self, r: _Retrieved, ans: Any) -> dict[str, Any]:
        judged = self._judge(r.item, ans) if self.judge is not None else None
        return _record(r.item, r.hits, ans, r.retrieve_ms, judged)

    def _judge(self, it: GoldItem, ans: Any) -> dict[str, Any]:
        correct: bool | None = None
        reason = ""
        if it.answerable and not ans.abstained:
            plain = metrics.strip_markers(ans.text)
            if metrics.exact_match(plain, it.answers) == 1.0:
                correct, reason = True, "exact match"
            else:
                v = self.judge.correctness(it.question, it.answers, " ".join(plain.split()))
                if v is not None:
                    correct, reason = bool(v["correct"]), v.get("reason", "")
        pairs = [] if ans.abstained else metrics.cited_pairs(ans.text, _cited(ans))
        verdicts = []
        for sentence, c in pairs:
            v = self.judge.support(sentence, c.text)
            verdicts.append(
                {
                    "sentence": sentence,
                    "n": c.n,
                    "supported": None if v is None else bool(v["supported"]),
                }
            )
        known = [v["supported"] for v in verdicts if v["supported"] is not None]
        return {
            "correct": correct,
            "reason": reason,
            "support": (sum(known) / len(known)) if known else None,
            "pairs": verdicts,
        }


def _ordered(fs: Iterable[Future[dict[str, Any]]]) -> list[Future[dict[str, Any]]]:
    return sorted(fs, key=lambda f: (f.result().get("pos", 0), f.result()["id"]))


def _cited(ans: Any) -> list[metrics.Cited]:
    return [metrics.Cited(c.n, c.hit.chunk.doc_id, c.hit.chunk.text) for c in ans.citations]


def _record(
    it: GoldItem,
    hits: Sequence[Any],
    ans: Any,
    retrieve_ms: float,
    judged: dict[str, Any] | None,
) -> dict[str, Any]:
    """The items.jsonl line of one question (scores included)."""
    ranked = [metrics.Ranked(h.chunk.doc_id, h.chunk.text) for h in hits]
    scores: dict[str, Any] = {
        "retrieval": metrics.retrieval_scores(ranked, it.evidence, it.sources),
    }
    rec: dict[str, Any] = {
        "id": it.id,
        "pos": it.line,
        "type": it.type,
        "question": it.question,
        "gold": {
            "answers": it.answers,
            "sources": it.sources,
            "evidence": it.evidence,
            **({"points": it.points} if it.points else {}),
        },
        "answer": None,
        "abstained": None,
        "citations": [],
        "hits": [
            {
                "rank": h.rank,
                "doc_id": h.chunk.doc_id,
                "chunk_id": h.chunk.id,
                "score": round(float(h.score), 6),
            }
            for h in hits
        ],
        "retrieve_ms": round(retrieve_ms, 3),
        "latency_ms": None,
        "usage": None,
    }
    if ans is not None:
        correct = None
        if judged is not None and judged["correct"] is not None:
            correct = judged["correct"]
        scores["answer"] = metrics.answer_scores(
            ans.text, ans.abstained, it.answers, correct, it.points
        )
        scores["citations"] = metrics.citation_scores(
            ans.text,
            ans.raw_text,
            ans.abstained,
            len(ans.hits),
            _cited(ans),
            it.evidence,
            it.sources,
        )
        scores["support"] = support_scores(ans.sentences)  # issue 12: checked sentences
        u = ans.usage
        rec.update(
            sentences=[x.to_dict() for x in ans.sentences],
            answer=ans.text,
            raw_answer=ans.raw_text,
            abstained=bool(ans.abstained),
            shown=len(ans.hits),
            citations=[
                {"n": c.n, "doc_id": c.hit.chunk.doc_id, "chunk_id": c.hit.chunk.id}
                for c in ans.citations
            ],
            latency_ms=round(float(ans.timings_ms.get("total", 0.0)), 3),
            timings_ms={k: round(float(v), 3) for k, v in ans.timings_ms.items()},
            usage={
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "cost_usd": u.cost_usd,
            },
        )
    if judged is not None:
        scores["judge"] = {
            "correct": None if judged["correct"] is None else float(judged["correct"]),
            "support": judged["support"],
        }
        rec["judge"] = judged
    rec["scores"] = scores
    return rec
