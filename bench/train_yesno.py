"""Train the offline answerer's yes/no model (rag/answer/yesno_model.py) on MultiHop-RAG dev.

    python bench/train_yesno.py [--index index/multihop] [--out rag/models/yesno.json]

Needs an index of MultiHop-RAG's corpus (`rag ingest ../shared/data/multihop-rag/corpus.json
--index index/multihop`) and scikit-learn (a dev dependency; the product reads the
weights as JSON). Every dev question whose gold answer is "yes" or "no" is retrieved and
planned exactly as `rag ask` does; its features are the model's (`features()`), computed
by the same code the answerer runs. A standardised, L2-regularised logistic regression is
fitted.

It first prints a 5-fold cross-validated accuracy, folds grouped by evidence set (the
questions about one set of articles stay together), for the full feature set, for the
question's wording alone and for the evidence alone, beside the majority answer. Then it
fits on every question and writes the JSON with its provenance. Only the dev split is
used; the held-out split stays unseen.
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
from rag.answer import (  # noqa: E402
    IndexFacts,
    yesno,
    yesno_model,
)
from rag.answer.context import Context  # noqa: E402
from rag.answer.plan import plan  # noqa: E402
from rag.eval.datasets import load_gold  # noqa: E402
from rag.eval.metrics import yes_no_gold  # noqa: E402

C = 0.03  # inverse L2 strength, chosen by the cross-validation below


def collect(index: str, queries: str, limit: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    pipe = api.Pipeline(api.load_settings(index={"dir": index}))
    r = pipe.retriever()
    facts = IndexFacts(r.knows_source, r.knows_term)
    items = [it for it in load_gold(queries, "multihop-rag") if yes_no_gold(it.answers)]
    if limit:
        items = items[:limit]
    X, y, groups = [], [], []
    for it in items:
        hits = r.search(it.question, pipe.settings.retrieval.top_k)
        p = plan(it.question)
        ctx = Context.build(p, hits, r.embed_queries, facts)
        part = p.parts[0]
        found = yesno._claims(ctx, part) if ctx is not None else None
        ev = found[0] if found else yesno_model.Evidence([], [], 0)
        X.append(yesno_model.features(part, ev))
        y.append(1 if yes_no_gold(it.answers) == "yes" else 0)
        groups.append("|".join(sorted(it.sources)))
    return np.asarray(X, dtype=np.float64), np.asarray(y), groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--index", default="index/multihop")
    ap.add_argument(
        "--queries", default=str(ROOT.parent / "shared/data/multihop-rag/queries-dev.json")
    )
    ap.add_argument("--out", default=str(yesno_model.MODEL_PATH))
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    X, y, groups = collect(args.index, args.queries, args.limit)
    print(f"# {len(y)} yes/no questions of MultiHop-RAG dev, {y.mean():.3f} yes; features in "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    n_cues = len(yesno_model.CUES)
    cv = GroupKFold(n_splits=5)

    def acc(cols: slice | list[int], c: float = C) -> float:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        return float(cross_val_score(model, X[:, cols], y, cv=cv, groups=groups).mean())

    print(f"majority answer ('yes')       {max(y.mean(), 1 - y.mean()):.3f}")
    for c in (0.03, 0.1, 0.3, 1.0):
        print(f"all features, C={c:<5}         {acc(slice(None), c):.3f}")
    wording = [*range(n_cues), X.shape[1] - 2, X.shape[1] - 1]
    print(f"question wording only        {acc(wording):.3f}")
    print(f"evidence only                {acc(list(range(n_cues, X.shape[1] - 2))):.3f}")

    scaler = StandardScaler().fit(X)
    lr = LogisticRegression(C=C, max_iter=5000).fit(scaler.transform(X), y)
    spec = {
        "format": 1,
        "trained_on": "MultiHop-RAG dev split, questions with a yes/no gold answer "
        f"({len(y)}), by bench/train_yesno.py on {time.strftime('%Y-%m-%d')}",
        "features": list(yesno_model.FEATURES),
        "mean": scaler.mean_.round(6).tolist(),
        "scale": scaler.scale_.round(6).tolist(),
        "weights": lr.coef_[0].round(6).tolist(),
        "bias": round(float(lr.intercept_[0]), 6),
    }
    Path(args.out).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    model = yesno_model.YesNoModel(spec)
    mine = np.array([model.p_yes(list(x)) for x in X])
    ref = lr.predict_proba(scaler.transform(X))[:, 1]
    print(f"wrote {args.out}; numpy vs scikit-learn max |Δp| {np.abs(mine - ref).max():.2e}; "
          f"training accuracy {((mine >= 0.5) == y).mean():.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
