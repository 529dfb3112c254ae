"""The injection detector on planted attacks and on clean news (no model, seconds).

    python bench/injection_detector.py [--bipia data/bipia/text_attack_train.json]
        [--corpus ../shared/data/multihop-rag/corpus.json] [--show 40]

Detection: each attack is planted at the start, middle and end of its bundled article
(rag.eval.attacks.plant); it counts as caught when every sentence of the planted text is
flagged. False positives: the share of the MultiHop-RAG articles' sentences flagged (no
attacks planted), with the flagged sentences printed for reading. Our on-topic attacks
are reported by split: "dev" (developed on) and "held out" (written after the detector
was frozen).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import header  # noqa: E402
from rag import injection  # noqa: E402
from rag.eval.attacks import (  # noqa: E402
    POSITIONS,
    Attack,
    bipia_attacks,
    bipia_train_file,
    on_topic_attacks,
    plant,
    read_article,
)


def shared_dir() -> Path:
    here = ROOT.parent / "shared"
    return here if here.is_dir() else Path("/work/shared")


def caught(attack: Attack, position: str) -> tuple[bool, str]:
    _, body = read_article(attack.article)
    text = plant(body, attack.text, position)
    a = text.index(attack.text)
    b = a + len(attack.text)
    spans = injection.split(text)
    mine = [(s, e) for s, e in spans if s < b and a < e]
    flags = injection.scan(text, spans)
    hit = all(any(f.start < e and s < f.end for f in flags) for s, e in mine)
    # sentences of the article itself flagged because of the plant
    collateral = [f for f in flags if not (f.start < b and a < f.end)]
    return hit, f"{len(collateral)} article sentence(s) flagged too" if collateral else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--bipia",
        default=str(bipia_train_file()),
        help="BIPIA text attacks (default: the train split in data/bipia; the held-out "
        "test split only when named)",
    )
    ap.add_argument("--corpus", default=str(shared_dir() / "data/multihop-rag/corpus.json"))
    ap.add_argument("--show", type=int, default=40, help="flagged news sentences to print")
    ap.add_argument("--misses", action="store_true", help="print every attack missed")
    args = ap.parse_args()
    header("injection detector", sys.argv)

    sets: list[tuple[str, list[Attack]]] = []
    if Path(args.bipia).is_file():
        sets.append((f"BIPIA {Path(args.bipia).name}", bipia_attacks(Path(args.bipia))))
    else:
        print(f"(no BIPIA file at {args.bipia}: skipped)")
    ours = on_topic_attacks()
    sets.append(("on-topic dev", [a for a in ours if a.split != "holdout"]))
    sets.append(("on-topic held out", [a for a in ours if a.split == "holdout"]))
    for name, attacks in sets:
        per_pos: Counter[str] = Counter()
        per_cat: Counter[str] = Counter()
        cats: Counter[str] = Counter()
        collateral = 0
        for at in attacks:
            cats[at.category] += len(POSITIONS)
            for pos in POSITIONS:
                ok, note = caught(at, pos)
                per_pos[pos] += ok
                per_cat[at.category] += ok
                collateral += bool(note)
                if not ok and args.misses:
                    print(f"  missed [{pos}] {at.id}: {at.text}")
        n = len(attacks)
        total = sum(per_pos.values())
        print(
            f"{name}: {total}/{n * 3} planted attacks caught ({total / (n * 3):.1%}); "
            + ", ".join(f"{p} {per_pos[p]}/{n}" for p in POSITIONS)
            + f"; plants that also flagged article sentences: {collateral}"
        )
        if len(cats) > 1:
            for c in cats:
                print(f"    {c:28s} {per_cat[c]:3d}/{cats[c]}")

    corpus = Path(args.corpus)
    if not corpus.is_file():
        print(f"(no corpus at {corpus}: false positives not measured)")
        return
    from rag.ingest import read_paths

    # the articles as ingest stores them (zero-width characters dropped, and so on)
    arts = [
        {"title": d.title, "body": d.text}
        for d in read_paths([corpus], max_file_mb=500, max_files=10).documents
    ]
    t0 = time.perf_counter()
    n_sent = 0
    hits: list[tuple[float, str, str, str]] = []
    docs_flagged = 0
    for art in arts:
        body = art["body"]
        spans = injection.split(body)
        n_sent += len(spans)
        flags = injection.scan(body, spans)
        docs_flagged += bool(flags)
        for f in flags:
            hits.append((f.score, art["title"][:60], body[f.start : f.end], f.reason))
    dt = time.perf_counter() - t0
    print(
        f"MultiHop-RAG corpus: {len(hits)} of {n_sent} sentences flagged "
        f"({len(hits) / n_sent:.3%}) in {docs_flagged} of {len(arts)} articles; "
        f"scan {dt:.1f} s ({n_sent / dt:,.0f} sentences/s)"
    )
    for score, title, sent, reason in sorted(hits, reverse=True)[: args.show]:
        print(f"  {score:.2f} [{title}] {sent[:200]!r}\n        {reason}")


if __name__ == "__main__":
    main()
