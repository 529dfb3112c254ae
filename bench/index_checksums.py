"""What checksums cost: at commit, on every open, and in `rag index verify`.

Data. A real generation (`--base`, default: the MultiHop-RAG index, 609 articles, ≈ 7.5k
chunks, 90 MB) and a synthetic one of `--chunks` chunks (default 1M) made by tiling the
real one's files: vectors, sentence vectors and BM25 arrays repeated, SQLite's document
and chunk rows copied with new ids, and a manifest written by the store's own code
(`describe_files`, `sealed_json`). Its bytes are shaped like a real generation of that
size (≈ 12 KB per chunk); only the vectors and the chunk table are meaningful.

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
import sqlite3
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


def tile_npy(src: Path, dst: Path, copies: int) -> None:
    """dst = src's rows repeated `copies` times, written block by block."""
    import numpy as np

    a = np.load(src, mmap_mode="r")
    out = np.lib.format.open_memmap(
        dst, mode="w+", dtype=a.dtype, shape=(len(a) * copies, *a.shape[1:])
    )
    for k in range(copies):
        out[k * len(a) : (k + 1) * len(a)] = a
    out.flush()
    del out


def tile_sqlite(src: Path, dst: Path, copies: int, n_chunks: int, n_sent: int) -> None:
    con = sqlite3.connect(dst)
    con.execute("ATTACH DATABASE ? AS base", (f"file:{src}?mode=ro&immutable=1",))
    schema = [r[0] for r in con.execute("SELECT sql FROM base.sqlite_master WHERE sql IS NOT NULL")]
    for sql in schema:
        con.execute(sql)
    for k in range(copies):
        con.execute(
            "INSERT INTO docs SELECT id || ?, title, source, url, published_at, origin, extra, "
            "hash, n_chunks, text FROM base.docs",
            (f"#{k}",),
        )
        con.execute(
            'INSERT INTO chunks SELECT pos + ?, id || ?, doc_id || ?, start, "end", text, '
            "sentences, CASE WHEN sent_row < 0 THEN -1 ELSE sent_row + ? END FROM base.chunks",
            (k * n_chunks, f"#{k}", f"#{k}", k * n_sent),
        )
        con.commit()
    con.execute("DETACH DATABASE base")
    con.close()


def synthesize(base: Path, out: Path, chunks: int) -> tuple[Path, float]:
    """A generation of about `chunks` chunks tiled from `base`; returns it and the
    seconds its manifest's checksums took (what a commit pays)."""
    from rag.store.integrity import describe_files, sealed_json

    manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    n, ns = manifest["counts"]["chunks"], manifest["counts"]["sentences"]
    copies = max(1, round(chunks / n))
    gen = out / "gen-000001"
    gen.mkdir(parents=True)
    for p in sorted(base.rglob("*")):
        rel = p.relative_to(base)
        if p.is_dir():
            (gen / rel).mkdir(parents=True, exist_ok=True)
        elif p.suffix == ".npy":
            tile_npy(p, gen / rel, copies)
        elif p.name == "chunks.sqlite":
            tile_sqlite(p, gen / rel, copies, n, ns)
        elif p.name not in ("manifest.json", "index.faiss"):
            shutil.copy(p, gen / rel)
    docs = manifest["documents"]
    manifest["documents"] = {f"{d}#{k}": v for k in range(copies) for d, v in docs.items()}
    manifest["counts"] = {
        "documents": len(docs) * copies,
        "chunks": n * copies,
        "sentences": ns * copies,
    }
    manifest["faiss"] = {"type": "flat"}
    manifest["generation"] = "gen-000001"
    t0 = time.perf_counter()
    manifest["files"] = describe_files(gen)
    (gen / "manifest.json").write_text(sealed_json(manifest), encoding="utf-8")
    seconds = time.perf_counter() - t0
    (out / "CURRENT").write_text("gen-000001\n")
    return out, seconds


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
    ap.add_argument("--base", type=Path, default=Path("/work/cache/multihop-index"))
    ap.add_argument("--chunks", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the synthetic index")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    header("index checksums: commit, open, verify", sys.argv)
    if not (a.base / "CURRENT").is_file():
        sys.exit(f"no index at {a.base}: build one (`rag ingest PATH --index {a.base}`)")
    from rag.store.integrity import describe_files

    base_gen = a.base / (a.base / "CURRENT").read_text().strip()
    base_copy = Path(tempfile.mkdtemp(prefix="checksums-base-"))
    try:
        # the base as this version writes it (an older index has no checksums yet)
        shutil.copytree(a.base, base_copy / "index")
        gen = base_copy / "index" / base_gen.name
        from rag.store.integrity import sealed_json

        m = json.loads((gen / "manifest.json").read_text())
        t = timed(lambda: describe_files(gen), 3)
        m["files"] = describe_files(gen)
        (gen / "manifest.json").write_text(sealed_json(m), encoding="utf-8")
        print(f"\ncommit checksums, base generation: median {median(t) * 1000:.1f} ms ({load()})")
        measure("base", base_copy / "index", a.rounds)
        root = Path(tempfile.mkdtemp(prefix="checksums-", dir=a.dir))
        try:
            t0 = time.perf_counter()
            index, commit_s = synthesize(gen, root / "index", a.chunks)
            print(
                f"\nsynthetic generation written in {time.perf_counter() - t0:.0f} s; "
                f"commit checksums (describe_files): {commit_s:.2f} s ({load()})"
            )
            measure("synthetic", index, a.rounds)
        finally:
            if a.keep:
                print(f"kept {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(base_copy, ignore_errors=True)
    print(f"\nend      {load()}")


if __name__ == "__main__":
    main()
