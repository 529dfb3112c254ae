"""Ingest speed of news as it comes: cluttered web pages and PDFs.

Makes `--pages` cluttered HTML pages (bench/news_pages.py, the three styles in turn) and
`--pdfs` PDFs (fpdf2, two to six pages each) from MultiHop-RAG articles, then for each
folder prints:
    read     `read_paths` alone (decode, extract the main text or the PDF's pages),
             median of `--rounds`, in files per second
    ingest   `rag ingest FOLDER --index TMP -q` in a fresh process: read, chunk, embed
             (onnx-int8), write; wall time and documents per second
The load average is printed with every figure (the machine is shared).

Usage: python bench/ingest_news.py [--pages 300] [--pdfs 50] [--rounds 3] [--corpus FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, load, offline
from bench.news_pages import STYLES, load_articles, render_page

_LATIN1 = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "—": "-", "–": "-", "…": "..."})


def latin1(text: str) -> str:
    """fpdf2's core fonts are Latin-1: the article's typography mapped, the rest dropped."""
    text = unicodedata.normalize("NFKC", text.translate(_LATIN1))
    return text.encode("latin-1", "ignore").decode("latin-1")


def make_pdfs(arts: list[dict], folder: Path, n: int) -> None:
    from fpdf import FPDF

    for i, a in enumerate(arts[:n]):
        pdf = FPDF(format="A4")
        pdf.set_title(latin1(a["title"]))
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, latin1(a["title"]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for para in a["body"].split("\n\n"):
            if para.strip():
                pdf.multi_cell(0, 5, latin1(" ".join(para.split())), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
        pdf.output(str(folder / f"article-{i:03d}.pdf"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="../shared/data/multihop-rag/corpus.json")
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--pdfs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    offline()
    header("Ingest speed: cluttered HTML pages and PDFs", sys.argv)
    from rag.ingest import read_paths

    arts = load_articles(args.corpus)
    titles = [a["title"] for a in arts]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        html_dir, pdf_dir = root / "html", root / "pdf"
        html_dir.mkdir()
        pdf_dir.mkdir()
        rng = random.Random(5)
        for i in range(args.pages):
            page = render_page(arts[i % len(arts)], STYLES[i % len(STYLES)], rng, titles)
            (html_dir / f"page-{i:03d}.html").write_text(page, encoding="utf-8")
        make_pdfs(arts[len(arts) // 2 :], pdf_dir, args.pdfs)
        n_pages = sum(_pdf_pages(p) for p in pdf_dir.iterdir())
        print(f"made {args.pages} pages ({_mb(html_dir):.1f} MB), {args.pdfs} PDFs "
              f"({n_pages} pages, {_mb(pdf_dir):.1f} MB)")  # fmt: skip
        print()
        print("| input | files | read: files/s | ingest: wall s | ingest: docs/s | chunks | load |")
        print("|---|---|---|---|---|---|---|")
        for name, folder, n in (
            ("cluttered HTML", html_dir, args.pages),
            ("PDF", pdf_dir, args.pdfs),
        ):
            times = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                r = read_paths([folder], max_file_mb=50, max_files=100_000)
                times.append(time.perf_counter() - t0)
            assert len(r.documents) == n, (len(r.documents), r.skipped[:3])
            read_rate = n / statistics.median(times)
            env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
            env["RAG_INDEX__DIR"] = str(root / f"index-{name[:3]}")
            t0 = time.perf_counter()
            p = subprocess.run(
                [sys.executable, "-m", "rag.cli", "ingest", str(folder), "-q"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            chunks = p.stdout.split(" chunks embedded")[0].rsplit(" ", 1)[-1]
            print(f"| {name} | {n} | {read_rate:.1f} | {wall:.1f} | {n / wall:.2f} | {chunks} | "
                  f"{load()} |", flush=True)  # fmt: skip
    print()
    print(f"end      {load()}")


def _mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir()) / 1e6


def _pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


if __name__ == "__main__":
    main()
