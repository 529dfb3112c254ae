"""Near-duplicate (wire copy) clustering: MinHash LSH (what ingest uses) against SimHash.

1. MultiHop-RAG's 609 articles alone: how many each method clusters (they are distinct
   articles, so every clustered one is a false merge or a true reprint to look at).
2. The same corpus plus one wire copy of each of `--copies` articles, made as outlets
   reprint agency copy (another headline always):
       same      the body unchanged
       local     a local paragraph added at the top and one at the end
       edited    one sentence in eight reworded, a few words cut
       trimmed   the last quarter of the paragraphs cut
       all       local + edited + trimmed
   Printed per method and threshold: the share of copies clustered with their original
   (recall, per kind), and the originals wrongly merged with each other.

SimHash: 64-bit, over the same word 5-gram shingles, two bodies are duplicates when
their fingerprints differ in at most k bits (compared pairwise here; an index of
permuted tables would be needed at scale).

Usage: python bench/near_duplicates.py [--corpus FILE] [--copies 200]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, load
from bench.news_pages import load_articles

KINDS = ("same", "local", "edited", "trimmed", "all")


def make_copy(body: str, kind: str, rng: random.Random) -> str:
    paras = [p for p in body.split("\n\n") if p.strip()]
    if kind in ("edited", "all"):
        out = []
        for p in paras:
            sents = p.split(". ")
            for i in range(len(sents)):
                if rng.random() < 1 / 8:
                    w = sents[i].split()
                    if len(w) > 6:
                        del w[rng.randrange(len(w))]
                        w.insert(rng.randrange(len(w)), rng.choice(["reportedly", "also", "now"]))
                        w[rng.randrange(len(w))] = rng.choice(["said", "noted", "added"])
                    sents[i] = " ".join(w)
            out.append(". ".join(sents))
        paras = out
    if kind in ("trimmed", "all"):
        paras = paras[: max(1, len(paras) * 3 // 4)]
    if kind in ("local", "all"):
        paras = [
            "ARDEN — Local officials in Arden said on Tuesday they were following the story "
            "closely and would brief residents at the town hall next week.",
            *paras,
            "The Coast Herald contributed reporting from Arden. Readers can send tips to our "
            "newsroom by email.",
        ]
    return "\n\n".join(paras)


def simhash(sh) -> int:
    import numpy as np

    if not len(sh):
        return 0
    # spread each 32-bit shingle hash to 64 bits, then vote per bit
    x = sh.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(29)
    bits = ((x[:, None] >> np.arange(64, dtype=np.uint64)[None, :]) & np.uint64(1)).astype(np.int32)
    votes = bits.sum(axis=0) * 2 - len(sh)
    return int(sum(1 << i for i in range(64) if votes[i] > 0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="../shared/data/multihop-rag/corpus.json")
    ap.add_argument("--copies", type=int, default=200)
    args = ap.parse_args()
    header("Near-duplicate clustering: MinHash LSH vs SimHash", sys.argv)

    from rag.ingest.dedup import Member, cluster, shingles, words_of

    arts = load_articles(args.corpus)
    originals = [Member(f"o{i}", a["body"], a.get("published_at")) for i, a in enumerate(arts)]
    rng = random.Random(3)
    picked = rng.sample(range(len(arts)), k=min(args.copies, len(arts)))
    copies, kind_of = [], {}
    for j, i in enumerate(picked):
        kind = KINDS[j % len(KINDS)]
        copies.append(Member(f"c{i}", make_copy(arts[i]["body"], kind, rng), None))
        kind_of[f"c{i}"] = kind
    everything = originals + copies
    print(f"articles {len(originals)}, copies {len(copies)} ({', '.join(KINDS)} in turn)")

    def score(pairs: dict[str, str]) -> tuple[dict[str, float], int]:
        """pairs: doc → the doc it was clustered with (either direction)."""
        found = {k: 0 for k in KINDS}
        for c in copies:
            orig = "o" + c.id[1:]
            if pairs.get(c.id) == orig or pairs.get(orig) == c.id:
                found[kind_of[c.id]] += 1
        n = {k: sum(1 for c in copies if kind_of[c.id] == k) for k in KINDS}
        wrong = sum(1 for a, b in pairs.items() if a[0] == "o" and b[0] == "o")
        return {k: found[k] / max(1, n[k]) for k in KINDS}, wrong

    print()
    print(
        "| method | threshold | MultiHop alone: clustered | copies found: "
        + " | ".join(KINDS)
        + " | originals merged | s |"
    )
    print("|---|---|---|" + "---|" * len(KINDS) + "---|---|")
    for t in (0.5, 0.7, 0.8, 0.85, 0.9):
        t0 = time.perf_counter()
        alone = cluster(originals, t)
        roles = cluster(everything, t)
        secs = time.perf_counter() - t0
        rec, wrong = score({k: r.of for k, r in roles.items()})
        print(
            f"| MinHash LSH | overlap ≥ {t} | {len(alone)} | "
            + " | ".join(f"{rec[k]:.2f}" for k in KINDS)
            + f" | {wrong} | {secs:.1f} |",
            flush=True,
        )
    t0 = time.perf_counter()
    fps = {m.id: simhash(shingles(words_of(m.text))) for m in everything}
    ids = list(fps)
    secs_fp = time.perf_counter() - t0
    for k in (3, 6, 10, 14):
        t0 = time.perf_counter()
        pairs: dict[str, str] = {}
        alone = 0
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if bin(fps[a] ^ fps[b]).count("1") <= k:
                    pairs.setdefault(b, a)
                    alone += a[0] == "o" and b[0] == "o"
        rec, wrong = score(pairs)
        secs = secs_fp + time.perf_counter() - t0
        print(
            f"| SimHash 64 | ≤ {k} bits | {alone} | "
            + " | ".join(f"{rec[k2]:.2f}" for k2 in KINDS)
            + f" | {wrong} | {secs:.1f} |",
            flush=True,
        )
    print()
    print(f"end      {load()}")


if __name__ == "__main__":
    main()
