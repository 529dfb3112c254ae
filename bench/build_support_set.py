"""Build data/gold/support.jsonl: labelled (sentence, passage, supported?) pairs.

    .venv/bin/python bench/build_support_set.py [--out data/gold/support.jsonl]

Passages are the project's own chunks (default chunking) of the bundled articles and
of MultiHop-RAG's corpus (../shared/data/multihop-rag). Pairs:
- hand-written claims (bench/support_claims.py): paraphrases and answer-style sentences
  (supported); changed numbers or names, added claims, negations (unsupported);
- verbatim: each fact against its own passage (supported);
- number / name swapped automatically in a MultiHop fact (unsupported);
- wrong article: a MultiHop fact against the passage of the next sampled fact (another
  article), and a claim about one bundled article against the closest passage of the
  other article, for facts that only one article states (unsupported).
`split` is dev for even fact numbers, test for odd ones: tune on dev, report test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import offline  # noqa: E402

offline()

from support_claims import BUNDLED, MULTIHOP  # noqa: E402

from rag.chunking import Chunker, ChunkParams  # noqa: E402
from rag.embed import get_encoder  # noqa: E402
from rag.ingest import read_paths  # noqa: E402
from rag.resources import articles_dir  # noqa: E402
from rag.types import Chunk, Document  # noqa: E402

SHARED = next(
    (
        p / "data" / "multihop-rag"
        for p in (ROOT.parent / "shared", Path("/work/shared"))
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "data" / "multihop-rag",
)
FACTS_SEED = 12
# facts that only one bundled article states (a wrong-article pair is then surely wrong)
ONE_ARTICLE = (
    "Krasnov",
    "China became",
    "Fiona Hill",
    "Russian policymakers",
    "United Nations",
    "business representative",
    "Galeotti",
    "intelligence cooperation",
    "August 2021",
    "Vladimir Putin",
)


def squash(s: str) -> str:
    return "".join(s.split())


def multihop_facts() -> list[tuple[str, str]]:
    """The sampled facts M00.. (title, fact), as bench/support_claims.py numbers them."""
    import random

    q = json.loads((SHARED / "queries-dev.json").read_text(encoding="utf-8"))
    facts, seen = [], set()
    for x in q:
        for e in x["evidence_list"]:
            f = " ".join(e["fact"].split())
            if f in seen:
                continue
            seen.add(f)
            if 12 <= len(f.split()) <= 40 and not f.endswith("?"):
                facts.append((e["title"], f))
    random.seed(FACTS_SEED)
    return random.sample(facts, 45)


def find_chunk(
    fact: str, docs: list[Document], chunker: Chunker, title: str | None = None
) -> Chunk:
    sq = squash(fact)
    for d in docs:
        if (title is None or d.title == title) and sq in squash(d.text):
            for c in chunker.chunk(d):
                if sq in squash(c.text):
                    return c
    raise SystemExit(f"fact not found in one chunk: {fact[:80]}")


TITLES: dict[str, str] = {}


def record(
    rid: str, sentence: str, c: Chunk, supported: bool, kind: str, origin: str, split: str
) -> dict:
    return {
        "id": rid,
        "sentence": sentence,
        "doc_id": c.doc_id,
        "title": TITLES.get(c.doc_id, ""),
        "start": c.start,
        "end": c.end,
        "passage": c.text,
        "supported": supported,
        "kind": kind,
        "origin": origin,
        "split": split,
    }


_NUM = re.compile(r"\d[\d,.]*")
_NAME = re.compile(r"(?<=[a-z,] )[A-Z][a-z]+(?: [A-Z][a-z]+)+")


def swap_number(fact: str) -> str | None:
    m = _NUM.search(fact)
    if not m:
        return None
    raw = m.group(0).rstrip(".,")
    digits = raw.replace(",", "")
    try:
        v = float(digits)
    except ValueError:
        return None
    new = v + 3 if 1900 <= v <= 2100 else (v * 2 + 1 if v < 10 else round(v * 1.3) + 1)
    text = f"{new:g}" if "." in digits else str(int(new))
    return fact[: m.start()] + text + fact[m.start() + len(raw) :]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "gold" / "support.jsonl")
    args = ap.parse_args()
    enc = get_encoder("all-MiniLM-L6-v2")
    chunker = Chunker(enc.counter(), ChunkParams())
    out: list[dict] = []

    # MultiHop-RAG
    mh_docs = read_paths([SHARED / "corpus.json"], max_file_mb=100, max_files=10).documents
    TITLES.update((d.id, d.title) for d in mh_docs)
    facts = multihop_facts()
    chunks = [find_chunk(f, mh_docs, chunker, t) for t, f in facts]
    names = [m.group(0) for _, f in facts for m in _NAME.finditer(f)]
    for i, ((_, fact), c) in enumerate(zip(facts, chunks, strict=True)):
        split = "dev" if i % 2 == 0 else "test"
        fid = f"M{i:02d}"
        out.append(record(f"{fid}-verbatim", fact, c, True, "verbatim", "multihop", split))
        other = chunks[(i + 1) % len(chunks)]
        out.append(record(f"{fid}-wrong", fact, other, False, "wrong-article", "multihop", split))
        swapped = swap_number(fact)
        if swapped and swapped != fact:
            out.append(record(f"{fid}-num", swapped, c, False, "number", "multihop", split))
        m = _NAME.search(fact)
        if m:
            order = names[(7 * i) % len(names) :] + names[: (7 * i) % len(names)]
            repl = next((n for n in order if n not in fact and n.split()[-1] not in c.text), None)
            if repl:
                sw = fact[: m.start()] + repl + fact[m.end() :]
                out.append(record(f"{fid}-name", sw, c, False, "name", "multihop", split))
        for k, (_, kind, claim, ok) in enumerate(x for x in MULTIHOP if x[0] == fid):
            out.append(record(f"{fid}-{kind}-{k}", claim, c, ok, kind, "multihop", split))

    # the bundled articles
    b_docs = read_paths([articles_dir()], max_file_mb=100, max_files=10).documents
    TITLES.update((d.id, d.title) for d in b_docs)
    b_facts = list(dict.fromkeys(f for f, *_ in BUNDLED))
    import numpy as np

    for i, fact in enumerate(b_facts):
        split = "dev" if i % 2 == 0 else "test"
        c = find_chunk(fact, b_docs, chunker)
        fid = f"B{i:02d}"
        out.append(record(f"{fid}-verbatim", fact, c, True, "verbatim", "bundled", split))
        claims = [(kind, claim, ok) for f, kind, claim, ok in BUNDLED if f == fact]
        for k, (kind, claim, ok) in enumerate(claims):
            out.append(record(f"{fid}-{kind}-{k}", claim, c, ok, kind, "bundled", split))
        if any(key in fact for key in ONE_ARTICLE):
            other_doc = next(d for d in b_docs if d.id != c.doc_id)
            others = chunker.chunk(other_doc)
            claim = next((cl for kind, cl, ok in claims if ok), fact)
            v = enc.encode([claim] + [o.text for o in others])
            best = others[int(np.argmax(v[1:] @ v[0]))]
            out.append(
                record(f"{fid}-wrong", claim, best, False, "wrong-article", "bundled", split)
            )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    n_sup = sum(r["supported"] for r in out)
    print(f"{len(out)} pairs ({n_sup} supported, {len(out) - n_sup} not) → {args.out}")


if __name__ == "__main__":
    main()
