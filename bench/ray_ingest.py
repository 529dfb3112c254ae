"""`rag ingest --ray` next to a plain `rag ingest` on the same corpus.

The corpus: the first `--articles` MultiHop-RAG articles, one Markdown file each (as a
newsroom's folder of articles). Each round runs, in fresh processes and alternating
which goes first, `rag ingest CORPUS -q --index A` and `rag ingest CORPUS -q --ray
--index B` into new indexes, and prints each one's wall time, the seconds the ingest
itself reports (reading to publishing, without process start), its chunks/s, and
whether the two indexes hold the same chunk ids and bit-identical vectors. The Ray arm
starts a local Ray (about 5 s on this machine) inside its time: that is what a user of
`--ray` on one machine waits for. An unchanged re-ingest (`--ray`, nothing to embed) is
timed once at the end.

On this 2-core machine Ray cannot be faster than the plain ingest, which already uses
both cores to embed: the figure shows what Ray costs here, not what a cluster gains.

Usage:
  python bench/ray_ingest.py [--articles 60] [--rounds 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import header, load, median, offline

ROOT = Path(__file__).resolve().parent.parent
MULTIHOP = Path("/work/shared/data/multihop-rag/corpus.json")


def write_corpus(folder: Path, n: int) -> int:
    records = json.loads(MULTIHOP.read_text(encoding="utf-8"))[:n]
    folder.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(records):
        text = f"---\nsource: {r['source']}\n---\n# {r['title']}\n\n{r['body']}\n"
        (folder / f"article-{i:04d}.md").write_text(text, encoding="utf-8")
    return len(records)


def run(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, the ingest's own seconds, chunks embedded."""
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), cwd=ROOT)
    wall = time.perf_counter() - t
    if p.returncode:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    m = re.search(r"(\d+) chunks? embedded in ([\d.]+) s", p.stdout)
    if not m:
        sys.exit(f"no summary in the output of {' '.join(cmd)}:\n{p.stdout}")
    return wall, float(m.group(2)), int(m.group(1))


def same_index(a: Path, b: Path) -> str:
    import numpy as np

    from rag.store import open_index

    def by_id(path: Path) -> dict[str, object]:  # rows follow commit timing: key by id
        idx = open_index(path)
        out = dict(zip((c.id for c in idx.all_chunks()), np.asarray(idx.vectors), strict=True))
        idx.close()
        return out

    x, y = by_id(a), by_id(b)
    ids = x.keys() == y.keys()
    vec = ids and all(np.array_equal(x[k], y[k]) for k in x)
    n = len(x)
    return f"{n:,} chunks; chunk ids {'identical' if ids else 'DIFFER'}, " + (
        "vectors bit-identical" if vec else "vectors DIFFER"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--keep", help="work in this folder and keep it (default: a temporary one)")
    a = ap.parse_args()
    offline()
    header("rag ingest --ray vs plain ingest", sys.argv)
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="rag-ray-bench-"))
    rag = str(Path(sys.executable).parent / "rag")
    try:
        corpus = work / "corpus"
        shutil.rmtree(corpus, ignore_errors=True)
        n = write_corpus(corpus, a.articles)
        print(f"corpus   {n} MultiHop-RAG articles as Markdown files in {corpus}\n", flush=True)
        times: dict[str, list[float]] = {"plain": [], "ray": []}
        for r in range(a.rounds):
            arms = ["plain", "ray"] if r % 2 == 0 else ["ray", "plain"]
            for arm in arms:
                index = work / f"index-{arm}"
                shutil.rmtree(index, ignore_errors=True)
                cmd = [rag, "ingest", str(corpus), "-q", "--index", str(index)]
                if arm == "ray":
                    cmd.insert(4, "--ray")
                wall, own, chunks = run(cmd)
                times[arm].append(wall)
                print(f"round {r + 1} {arm:5}  {wall:6.1f} s wall, ingest {own:6.1f} s, "
                      f"{chunks:,} chunks, {chunks / wall:5.1f} chunks/s wall  ({load()})",
                      flush=True)  # fmt: skip
            print(f"         same index: {same_index(work / 'index-plain', work / 'index-ray')}")
        p, q = median(times["plain"]), median(times["ray"])
        print(f"\nmedian wall: plain {p:.1f} s, --ray {q:.1f} s ({q / p:.2f}x the plain time)")
        wall, own, _ = run([rag, "ingest", str(corpus), "-q", "--ray", "--index",
                            str(work / "index-ray")])  # fmt: skip
        print(f"unchanged re-ingest with --ray: {wall:.1f} s wall, ingest {own:.1f} s  ({load()})")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
