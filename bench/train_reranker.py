"""Train the learned reranker of rag.search, and check it on plain questions.

    python bench/train_reranker.py [--multihop-index index/multihop] [--mixed-index index/mixed]
                                   [--plain-weight 0] [--heldout] [--out rag/models/reranker.json]

Needs the MultiHop index (`bench/multihop_eval.sh`, or a copy of a built one) and the
mixed index (`bench/mixed_index.py`: the bundled articles inside the MultiHop corpus).

Training data (only sets we may tune on; the held-out sets are never trained on):
- MultiHop-RAG's **dev** queries (../shared/data/multihop-rag/queries-dev.json, the 1,802
  with evidence), features computed on the MultiHop index: template questions that name
  their sources and dates. The shipped model (rag/models/reranker.json) is trained on
  these alone, as the default run trains (on a copy of the index built 2026-12-07 the
  trees came out slightly different: its features differ a little from the 2026-12-01
  index the shipped model saw; README, MultiHop-RAG).
- with `--plain-weight W` > 0, also `data/gold/plain-train.jsonl`: hand-written plain
  questions (who / what / when / why / how many, keyword queries) over other MultiHop-RAG
  articles, features computed on the mixed index, each question weighted W (see
  data/gold/README.md). Tried, not shipped: README, Retrieval.

For each question the searcher's candidates and features are computed exactly as at
query time; a candidate is positive when it holds a gold evidence fact (white space
removed, as the benchmark scores). A gradient-boosted classifier (scikit-learn, a dev
dependency; the product reads the model as JSON with numpy) is fitted on all positives,
the 60 hardest negatives and 20 random ones per question.

First it prints a 5-fold cross-validated estimate for each training set (MultiHop folds
keep the queries about one set of evidence articles together, plain folds the questions
about one article, so no question is scored by a model that saw its twins); then it
fits on everything, scores the check sets (`data/gold/bundled-dev.jsonl` on the mixed
index, plain-train when not trained on, and with `--heldout` the held-out
`data/gold/plain-heldout.jsonl`, scored only, never trained or tuned on) and writes the
JSON with its provenance (sets, sizes, weights, indexes, parameters, the cross-validated
figures, the date and git commit). Every set is scored three ways, as `rag eval
--retrieval-only` scores its questions with evidence: `default` (the model ranks the
questions that name a source, fusion the others: `retrieval.learned_scope = named`),
`learned` (the model ranks every question: `learned_scope = all`) and `fusion`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from rag import api  # noqa: E402
from rag.eval.datasets import load_gold  # noqa: E402
from rag.eval.metrics import Ranked, retrieval_scores, squash  # noqa: E402
from rag.search import FEATURES, _select  # noqa: E402

GBM = dict(
    max_iter=400,
    learning_rate=0.05,
    max_leaf_nodes=31,
    min_samples_leaf=50,
    l2_regularization=1.0,
    random_state=0,
)
HARD, RANDOM = 60, 20  # negatives kept per question
METRICS = ("hit@4", "hit@10", "mrr@10", "map@10")


@dataclass
class Question:
    gold: object  # GoldItem
    ids: np.ndarray  # candidate chunk rows
    X: np.ndarray  # their features
    y: np.ndarray  # 1: holds a gold fact
    named: bool  # names a source: the learned model ranks it by default
    fusion: list[int]  # the top 10 of `reranker = "fusion"`


@dataclass
class GoldSet:
    name: str
    path: Path
    fmt: str
    index: str
    weight: float
    questions: list[Question]
    texts: list[str]  # chunk texts of its index, in row order
    doc: np.ndarray  # document number of each chunk row
    doc_ids: list[str]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--multihop-index", default="index/multihop")
    ap.add_argument("--mixed-index", default="index/mixed")
    ap.add_argument(
        "--queries", default=str(ROOT.parent / "shared/data/multihop-rag/queries-dev.json")
    )
    ap.add_argument("--plain", default=str(ROOT / "data/gold/plain-train.jsonl"))
    ap.add_argument("--plain-weight", type=float, default=0.0)
    ap.add_argument("--out", default=str(ROOT / "rag/models/reranker.json"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--heldout", action="store_true", help="also score plain-heldout.jsonl")
    ap.add_argument("--limit", type=int, default=0, help="first N questions of each set")
    args = ap.parse_args()

    t0 = time.perf_counter()
    mixed = args.mixed_index
    mh = args.multihop_index
    train = [_read("MultiHop-RAG dev", args.queries, "multihop-rag", mh, 1.0, args)]
    plain = _read("plain-train", args.plain, "jsonl", mixed, args.plain_weight, args)
    checks = [_read("bundled-dev", ROOT / "data/gold/bundled-dev.jsonl", "jsonl", mixed, 0, args)]
    (train if args.plain_weight > 0 else checks).append(plain)
    if args.heldout:
        held = ROOT / "data/gold/plain-heldout.jsonl"
        checks.append(_read("plain-heldout", held, "jsonl", mixed, 0, args))
    print(f"features: {time.perf_counter() - t0:.0f} s", flush=True)

    folds = [_folds(_groups(s), args.folds) for s in train]
    oof = [[None] * len(s.questions) for s in train]
    for f in range(args.folds):
        model = _fit(
            [
                (s, [i for i in range(len(s.questions)) if folds[k][i] != f])
                for k, s in enumerate(train)
            ]
        )
        for k, s in enumerate(train):
            for i in np.flatnonzero(folds[k] == f):
                oof[k][i] = model.predict_proba(s.questions[i].X)[:, 1]
        print(f"  fold {f + 1}/{args.folds} done", flush=True)
    cv = {}
    print("cross-validated (out-of-fold) estimate; default = learned on questions that name a")
    print("source, fusion on the others (retrieval.learned_scope = named):")
    for s, p in zip(train, oof, strict=True):
        cv[s.name] = _report(s, p)

    model = _fit([(s, list(range(len(s.questions)))) for s in train])
    spec = _export(model)
    print("check sets (never trained on), the final model:")
    for s in checks:
        _report(s, [model.predict_proba(q.X)[:, 1] for q in s.questions])
    spec["trained_on"] = {
        "sets": [
            {
                "name": s.name,
                "file": s.path.name,
                "questions": len(s.questions),
                "index": s.index,
                "weight": s.weight,
            }
            for s in train
        ],
        "negatives_per_question": {"hardest": HARD, "random": RANDOM},
        "gbm": GBM,
        "cross_validated": cv,
        "date": time.strftime("%Y-%m-%d"),
        "commit": _commit(),
        "how": "python bench/train_reranker.py (see its docstring and README, Retrieval)",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(spec, separators=(",", ":")) + "\n")
    from rag.search import TreeModel

    X = np.concatenate([q.X for q in train[0].questions[:50]])
    diff = np.abs(TreeModel(spec).predict(X) - model.predict_proba(X)[:, 1]).max()
    print(
        f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB); "
        f"JSON model vs scikit-learn: max |Δp| = {diff:.2e}"
    )


def _read(name: str, path: str | Path, fmt: str, index: str, weight: float, args) -> GoldSet:  # type: ignore[no-untyped-def]
    """The questions with evidence, their candidates, features and labels."""
    settings = api.load_settings(index={"dir": index}, retrieval={"reranker": "fusion"})
    pipe = api.Pipeline(settings)
    searcher, idx = pipe.retriever().searcher, pipe.index()
    texts = [squash(c.text) for c in idx.all_chunks()]
    items = [g for g in load_gold(path, fmt) if g.evidence]
    if args.limit:
        items = items[: args.limit]
    fusion = searcher.search_many([g.question for g in items], 10)
    questions = []
    for g, fu in zip(items, fusion, strict=True):
        ids, X = searcher.features(g.question)
        facts = [f for f in (squash(e) for e in g.evidence) if f]
        y = np.array([any(f in texts[c] for f in facts) for c in ids], dtype=np.int8)
        named = searcher._learned_ranks(searcher._plan(g.question))
        questions.append(Question(g, ids, X, y, named, fu.positions))
    found = np.mean([q.y.any() for q in questions])
    print(
        f"{name}: {len(questions)} questions on {index}; a gold chunk among the candidates "
        f"for {found:.3f}; {sum(q.named for q in questions)} name a source"
    )
    table = idx.table()
    return GoldSet(name, Path(path), fmt, index, weight, questions, texts, table.doc, table.doc_ids)


def _report(s: GoldSet, probs: list) -> dict[str, dict[str, float]]:  # type: ignore[type-arg]
    """The set's figures for the default ranking, the learned model on every question
    and fusion; printed and returned."""
    out = {}
    for how in ("default", "learned", "fusion"):
        out[how] = _scores(s, probs, how)
        print(f"  {s.name:18s} {how:8s} " + _cells(out[how]), flush=True)
    return out


def _scores(s: GoldSet, probs: list, how: str = "learned") -> dict[str, float]:  # type: ignore[type-arg]
    """Mean retrieval metrics of the top 10 as `rag eval` scores them: picked from the
    probabilities (`learned`), fusion's (`fusion`), or the default's choice of the two."""
    out = []
    for q, p in zip(s.questions, probs, strict=True):
        if how == "fusion" or (how == "default" and not q.named):
            rows = q.fusion
        else:
            rows, _ = _select(q.ids, p, s.doc, 10, (0.7, 0.5))
        ranked = [Ranked(s.doc_ids[s.doc[r]], s.texts[r]) for r in rows]
        out.append(retrieval_scores(ranked, q.gold.evidence, q.gold.sources))  # type: ignore[attr-defined]
    return {k: round(float(np.mean([o[k] for o in out])), 4) for k in METRICS}


def _cells(r: dict[str, float]) -> str:
    return "  ".join(f"{k} {r[k]:.3f}" for k in METRICS)


def _groups(s: GoldSet) -> np.ndarray:
    """Questions about the same set of evidence articles share a group."""
    key: dict[frozenset[str], int] = {}
    return np.array([key.setdefault(frozenset(q.gold.sources), len(key)) for q in s.questions])  # type: ignore[attr-defined]


def _folds(groups: np.ndarray, k: int) -> np.ndarray:
    """The fold of each question (whole groups per fold, in a seeded random order)."""
    rng = np.random.RandomState(0)
    order = rng.permutation(groups.max() + 1)
    fold_of = np.empty(groups.max() + 1, int)
    fold_of[order] = np.arange(len(order)) % k
    return fold_of[groups]


def _fit(parts: list[tuple[GoldSet, list[int]]]):  # type: ignore[no-untyped-def]
    from sklearn.ensemble import HistGradientBoostingClassifier

    Xs, ys, ws = [], [], []
    log_rank = FEATURES.index("log_rank"), FEATURES.index("m_log_rank")
    for s, train in parts:
        for i in train:
            q = s.questions[i]
            hard = np.minimum(q.X[:, log_rank[0]], q.X[:, log_rank[1]])
            neg = np.flatnonzero(q.y == 0)
            neg = neg[np.argsort(hard[neg], kind="stable")]
            rest = neg[HARD:]
            rnd = np.random.RandomState(i).choice(rest, min(RANDOM, len(rest)), replace=False)
            keep = np.concatenate([np.flatnonzero(q.y == 1), neg[:HARD], rnd]).astype(int)
            Xs.append(q.X[keep])
            ys.append(q.y[keep])
            ws.append(np.full(len(keep), s.weight))
    model = HistGradientBoostingClassifier(**GBM)
    w = np.concatenate(ws)
    model.fit(np.concatenate(Xs), np.concatenate(ys), sample_weight=None if (w == 1).all() else w)
    return model


def _export(model) -> dict:  # type: ignore[no-untyped-def]
    trees = []
    for (predictor,) in model._predictors:  # binary: one tree per iteration
        n = predictor.nodes
        trees.append(
            {
                "feature": n["feature_idx"].tolist(),
                "threshold": n["num_threshold"].tolist(),
                "nan_left": n["missing_go_to_left"].astype(bool).tolist(),
                "left": n["left"].tolist(),
                "right": n["right"].tolist(),
                "leaf": n["is_leaf"].astype(bool).tolist(),
                "value": n["value"].tolist(),
                "depth": int(n["depth"].max()),
            }
        )
    return {
        "kind": "gradient-boosted trees (scikit-learn HistGradientBoostingClassifier)",
        "features": list(FEATURES),
        "baseline": float(np.ravel(model._baseline_prediction)[0]),
        "trees": trees,
    }


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    main()
