"""Train the learned reranker of rag.search on MultiHop-RAG's dev queries.

    python bench/train_reranker.py [--index index/multihop] [--out rag/models/reranker.json]

Needs an index of MultiHop-RAG's corpus (`rag ingest ../shared/data/multihop-rag/corpus.json
--index index/multihop`) and scikit-learn (a dev dependency; the product reads the model
as JSON with numpy). For each non-null dev query the searcher's candidates and features
are computed exactly as at query time; a candidate is positive when it holds a gold
evidence fact (white space removed, as the benchmark scores). A gradient-boosted
classifier is fitted on all positives, the 60 hardest negatives and 20 random ones per
query.

First it prints a 5-fold cross-validated estimate (folds keep the queries about one set
of evidence articles together, so a query is never scored by a model that saw its
twins), then fits on all dev queries and writes the JSON. Only the dev split is used;
the held-out split stays unseen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--index", default="index/multihop")
    ap.add_argument(
        "--queries", default=str(ROOT.parent / "shared/data/multihop-rag/queries-dev.json")
    )
    ap.add_argument("--out", default=str(ROOT / "rag/models/reranker.json"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="use the first N queries (a quick run)")
    args = ap.parse_args()

    settings = api.load_settings(index={"dir": args.index}, retrieval={"reranker": "fusion"})
    pipe = api.Pipeline(settings)
    searcher = pipe.retriever().searcher
    index = pipe.index()
    texts = [squash(c.text) for c in index.all_chunks()]
    doc_ids = index.table().doc_ids
    doc = index.table().doc
    items = [g for g in load_gold(args.queries, "multihop-rag") if g.evidence]
    if args.limit:
        items = items[: args.limit]

    t0 = time.perf_counter()
    data = []
    for i, g in enumerate(items):
        ids, X = searcher.features(g.question)
        facts = [f for f in (squash(e) for e in g.evidence) if f]
        y = np.array([any(f in texts[c] for f in facts) for c in ids], dtype=np.int8)
        data.append((ids, X, y))
        if i % 250 == 0:
            print(f"  features {i}/{len(items)} {time.perf_counter() - t0:.0f} s", flush=True)
    per_q = (time.perf_counter() - t0) / len(items) * 1000
    recall = np.mean([d[2].any() for d in data])
    print(
        f"features: {len(items)} queries, {per_q:.1f} ms each; a gold chunk among the "
        f"candidates for {recall:.3f} of them; {np.mean([len(d[0]) for d in data]):.0f} "
        "candidates per query"
    )

    groups = _groups(items)
    oof: list[np.ndarray | None] = [None] * len(data)
    for f, test in enumerate(_folds(groups, args.folds)):
        model = _fit(data, [i for i in range(len(data)) if i not in test])
        for i in test:
            oof[i] = model.predict_proba(data[i][1])[:, 1]
        print(f"  fold {f + 1}/{args.folds} done", flush=True)
    scores = []
    for g, (ids, _, _), p in zip(items, data, oof, strict=True):
        rows, _ = _select(ids, p, doc, 10, settings.retrieval.same_article_discount)
        ranked = [Ranked(doc_ids[doc[r]], index.chunks_at([r])[0].text) for r in rows]
        scores.append(retrieval_scores(ranked, g.evidence, g.sources))
    print("cross-validated (out-of-fold) estimate on dev:")
    for key in ("hit@4", "hit@10", "mrr@10", "map@10"):
        print(f"  {key:8s} {np.mean([s[key] for s in scores]):.3f}")

    model = _fit(data, list(range(len(data))))
    spec = _export(model)
    spec["trained_on"] = {
        "queries": Path(args.queries).name,
        "n_queries": len(items),
        "date": time.strftime("%Y-%m-%d"),
        "gbm": GBM,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(spec, separators=(",", ":")) + "\n")
    from rag.search import TreeModel

    X = np.concatenate([d[1] for d in data[:50]])
    diff = np.abs(TreeModel(spec).predict(X) - model.predict_proba(X)[:, 1]).max()
    print(
        f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB); "
        f"JSON model vs scikit-learn: max |Δp| = {diff:.2e}"
    )


def _groups(items: list) -> np.ndarray:
    """Queries about the same set of evidence articles share a group."""
    key: dict[frozenset[str], int] = {}
    return np.array([key.setdefault(frozenset(g.sources), len(key)) for g in items])


def _folds(groups: np.ndarray, k: int) -> list[set[int]]:
    rng = np.random.RandomState(0)
    order = rng.permutation(groups.max() + 1)
    fold_of = np.empty(groups.max() + 1, int)
    fold_of[order] = np.arange(len(order)) % k
    return [set(np.flatnonzero(fold_of[groups] == f).tolist()) for f in range(k)]


def _fit(data: list, train: list[int]):  # type: ignore[no-untyped-def]
    from sklearn.ensemble import HistGradientBoostingClassifier

    Xs, ys = [], []
    log_rank = FEATURES.index("log_rank"), FEATURES.index("m_log_rank")
    for i in train:
        _, X, y = data[i]
        hard = np.minimum(X[:, log_rank[0]], X[:, log_rank[1]])
        neg = np.flatnonzero(y == 0)
        neg = neg[np.argsort(hard[neg], kind="stable")]
        rest = neg[60:]
        rnd = np.random.RandomState(i).choice(rest, min(20, len(rest)), replace=False)
        keep = np.concatenate([np.flatnonzero(y == 1), neg[:60], rnd]).astype(int)
        Xs.append(X[keep])
        ys.append(y[keep])
    model = HistGradientBoostingClassifier(**GBM)
    model.fit(np.concatenate(Xs), np.concatenate(ys))
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


if __name__ == "__main__":
    main()
