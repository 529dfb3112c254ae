"""What checksums cost: at commit, on every open, and in `rag index verify`.

Data. A real index (`--base`, default: index/multihop, the MultiHop-RAG index, 609
articles, ≈ 7.5k chunks, 90 MB) and a synthetic one of `--chunks` chunks (default 1M):
replicas of the real one as segments (bench/synthetic_index.py, not merged), with a
manifest written by the store's own code. Its bytes are shaped like a real index of that
size (≈ 12 KB per chunk).

Measured, each with the load average beside it:
  commit     describe_files: every file hashed once (xxh3-128) as the writer does
  open       open_index with the cheap checks only (sizes, headers, manifest checksum),
             and with every byte hashed (what index.verify_on_open_mb allows)
  verify     check_generation(full=True), as `rag index verify` runs it
  hashes     one pass over the same files with xxh3-128, blake3 (if installed), blake2b
             and sha256, to compare algorithms on the same bytes
Files are read through the page cache: a first pass may read the disk, later ones not
(both are printed; the machine's free memory decides whether 12 GB stay cached).

Usage:
  python bench/index_checksums.py                      # 1M chunks (≈ 12 GB in --dir; ~5 min)
  python bench/index_checksums.py --chunks 100000      # quick
  python bench/index_checksums.py --keep --dir /path   # keep the synthetic index
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import header, load, median

BLOCK = 4 << 20


def timed(fn: Callable[[], object], rounds: int = 1) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def synthesize(base: Path, out: Path, chunks: int) -> tuple[Path, float]:
    """An index of about `chunks` chunks made of replicas of `base` as segments
    (bench/synthetic_index.py, not merged); returns it and the seconds its files'
    checksums take (what commits paid for them, segment by segment)."""
    from synthetic_index import build

    from rag.store.integrity import describe_files

    build(base, out, chunks, merge_factor=0)
    gen = out / (out / "CURRENT").read_text().strip()
    t0 = time.perf_counter()
    describe_files(gen)
    return out, time.perf_counter() - t0


def hash_all(files: list[Path], make: Callable[[], object]) -> None:
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    for p in files:
        h = make()
        with open(p, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])  # type: ignore[attr-defined]
        h.hexdigest()  # type: ignore[attr-defined]


def measure(label: str, index: Path, rounds: int) -> None:
    from rag.store import check_generation, open_index

    gen = (index / "CURRENT").read_text().strip()
    files = [p for p in sorted((index / gen).rglob("*")) if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    m = json.loads((index / gen / "manifest.json").read_text())
    print(
        f"\n## {label}: {m['counts']['chunks']:,} chunks, {m['counts']['documents']:,} "
        f"documents, {len(files)} files, {size / 1e9:.2f} GB (manifest "
        f"{(index / gen / 'manifest.json').stat().st_size / 1e6:.1f} MB)"
    )

    def open_cheap() -> None:
        open_index(index, verify_up_to_mb=0).close()

    def open_full() -> None:
        open_index(index, verify_up_to_mb=float("inf")).close()

    cheap = timed(open_cheap, rounds)
    print(f"open, cheap checks        median {median(cheap) * 1000:9.1f} ms   ({load()})")
    full = timed(open_full, 2)
    print(
        f"open, every byte hashed   first {full[0]:7.2f} s, then {full[1]:7.2f} s "
        f"({size / full[1] / 1e9:.1f} GB/s)   ({load()})"
    )
    verify = timed(lambda: check_generation(index, gen, full=True), 2)
    print(f"rag index verify (xxh3)   {min(verify):7.2f} s   ({load()})")
    algos: list[tuple[str, Callable[[], object]]] = []
    import xxhash

    algos.append(("xxh3_128", xxhash.xxh3_128))
    try:
        import blake3

        algos.append(("blake3", blake3.blake3))
    except ImportError:
        print("(blake3 not installed: `pip install blake3` to compare it)")
    algos += [("blake2b", hashlib.blake2b), ("sha256", hashlib.sha256)]
    for name, make in algos:
        t = min(timed(lambda make=make: hash_all(files, make), 1 if size > 2e9 else 3))
        print(f"hash {name:<10}           {t:7.2f} s  {size / t / 1e9:6.2f} GB/s   ({load()})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, default=Path("index/multihop"))
    ap.add_argument("--chunks", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the synthetic index")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    header("index checksums: commit, open, verify", sys.argv)
    if not (a.base / "CURRENT").is_file():
        sys.exit(f"no index at {a.base}: build one (`rag ingest PATH --index {a.base}`)")
    from rag.store.integrity import describe_files

    gen = a.base / (a.base / "CURRENT").read_text().strip()
    t = timed(lambda: describe_files(gen), 3)
    print(f"\ncommit checksums, base generation: median {median(t) * 1000:.1f} ms ({load()})")
    measure("base", a.base, a.rounds)
    root = Path(tempfile.mkdtemp(prefix="checksums-", dir=a.dir))
    try:
        t0 = time.perf_counter()
        index, commit_s = synthesize(a.base, root / "index", a.chunks)
        print(
            f"\nsynthetic index written in {time.perf_counter() - t0:.0f} s; "
            f"checksums of all its files (describe_files): {commit_s:.2f} s ({load()})"
        )
        measure("synthetic", index, a.rounds)
    finally:
        if a.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nend      {load()}")


if __name__ == "__main__":
    main()
