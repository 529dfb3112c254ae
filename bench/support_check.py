"""Precision and recall of the offline support check on data/gold/support.jsonl.

    .venv/bin/python bench/support_check.py [--set data/gold/support.jsonl] [--sweep]

Each pair goes through `rag.check.check_draft` exactly as an answer sentence does: the
sentence cites [1], the only passage shown, rebuilt as the index holds it (its sentence
spans, and sentence vectors pooled from the passage with its title header, like ingest).
"Supported" is the positive class: precision = share of the pairs the check calls
supported that are; recall = share of the supported pairs it calls supported.
`--sweep` prints the grid of threshold and term weight on the dev split (to tune on),
then the chosen setting on dev, test and all.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import header, load, offline  # noqa: E402

offline()

from rag.check import DEFAULT, CheckParams, check_draft  # noqa: E402
from rag.chunking import embed_text, split_sentences  # noqa: E402
from rag.embed import get_encoder  # noqa: E402
from rag.types import Chunk, DocMeta, Hit  # noqa: E402


def hit_of(r: dict, enc: object, stored: bool) -> Hit:
    text, start = r["passage"], r["start"]
    spans = [(start + s, start + e) for s, e in split_sentences(text)]
    chunk = Chunk(f"{r['doc_id']}#x", r["doc_id"], text, start, r["end"], spans)
    doc = DocMeta(r["doc_id"], r.get("title") or "")
    vectors = None
    if stored:
        head = doc.title
        shift = len(embed_text("", head))
        rel = [[(s - start + shift, e - start + shift) for s, e in spans]]
        _, sv = enc.encode_with_spans([embed_text(text, head)], rel)  # type: ignore[attr-defined]
        vectors = sv[0]
    return Hit(chunk, doc, 1.0, 1, sentence_vectors=vectors)


def run(
    rows: list[dict], hits: list[Hit], embed: object, params: CheckParams
) -> list[tuple[bool, float]]:
    out = []
    for r, h in zip(rows, hits, strict=True):
        c = check_draft(r["sentence"].rstrip() + " [1]", [h], embed=embed, params=params)
        claims = [s for s in c.sentences if s.claim]
        ok = all(s.supported and s.citations == [1] for s in claims) and bool(claims)
        out.append((ok, min((s.score for s in claims), default=0.0)))
    return out


def prf(rows: list[dict], pred: list[bool]) -> tuple[float, float, int]:
    tp = sum(p and r["supported"] for r, p in zip(rows, pred, strict=True))
    called = sum(pred)
    pos = sum(r["supported"] for r in rows)
    return (tp / called if called else 0.0), (tp / pos if pos else 0.0), len(rows)


def report(name: str, rows: list[dict], pred: list[bool]) -> None:
    p, r, n = prf(rows, pred)
    print(f"{name:<28} n={n:<4} precision {p:.3f}  recall {r:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=ROOT / "data" / "gold" / "support.jsonl")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--vectors", choices=["stored", "embedded", "none"], default="embedded")
    ap.add_argument("--threshold", type=float, default=DEFAULT.threshold)
    ap.add_argument("--w-terms", type=float, default=DEFAULT.w_terms)
    args = ap.parse_args()
    header("offline support check on the labelled set", sys.argv)
    rows = [json.loads(x) for x in args.set.read_text(encoding="utf-8").splitlines() if x.strip()]
    enc = get_encoder("all-MiniLM-L6-v2")
    stored = args.vectors == "stored"
    hits = [hit_of(r, enc, stored) for r in rows]
    cache: dict[str, object] = {}

    def embed(texts: list[str]) -> object:  # one at a time, like Retriever.embed_queries
        import numpy as np

        for t in texts:
            if t not in cache:
                cache[t] = enc.encode([t], batch_size=1)[0]
        return np.stack([cache[t] for t in texts])

    emb = None if args.vectors == "none" else embed
    dev = [i for i, r in enumerate(rows) if r["split"] == "dev"]
    if args.sweep:
        print("dev split: threshold x w_terms → precision / recall")
        best = None
        for w in (0.3, 0.4, 0.5, 0.6, 0.7):
            res = run(rows, hits, emb, CheckParams(threshold=0.0, w_terms=w, stored_vectors=stored))
            line = [f"w_terms {w:.1f}:"]
            for t in [x / 100 for x in range(30, 86, 5)]:
                pred = [res[i][0] and res[i][1] >= t for i in dev]
                p, r, _ = prf([rows[i] for i in dev], pred)
                line.append(f"{t:.2f} {p:.2f}/{r:.2f}")
                key = (min(p, r), p + r)
                if best is None or key > best[0]:
                    best = (key, t, w)
            print("  ".join(line))
        assert best is not None
        args.threshold, args.w_terms = best[1], best[2]
        print(f"chosen on dev: threshold {args.threshold:.2f}, w_terms {args.w_terms:.1f}")
    params = CheckParams(threshold=args.threshold, w_terms=args.w_terms, stored_vectors=stored)
    t0 = time.perf_counter()
    res = run(rows, hits, emb, params)
    ms = (time.perf_counter() - t0) * 1000 / len(rows)
    pred = [ok for ok, _ in res]
    print(
        f"vectors {args.vectors}, threshold {args.threshold:.2f}, w_terms {args.w_terms:.1f}; "
        f"{ms:.1f} ms per pair; load {load()}"
    )
    for split in ("dev", "test"):
        idx = [i for i, r in enumerate(rows) if r["split"] == split]
        report(split, [rows[i] for i in idx], [pred[i] for i in idx])
    report("all", rows, pred)
    by: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by[f"{r['origin']}/{r['kind']}"].append(i)
    print("accuracy by kind (label given):")
    for k in sorted(by):
        idx = by[k]
        acc = sum(pred[i] == rows[i]["supported"] for i in idx) / len(idx)
        print(f"  {k:<28} n={len(idx):<4} {acc:.3f}")
    wrong = [i for i, r in enumerate(rows) if pred[i] != r["supported"]]
    print(f"{len(wrong)} wrong:")
    for i in wrong:
        r = rows[i]
        print(
            f"  {r['id']:<22} gold {r['supported']!s:<5} score {res[i][1]:.3f}  "
            f"{r['sentence'][:110]}"
        )


if __name__ == "__main__":
    main()
