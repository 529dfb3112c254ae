"""Main-text extraction from cluttered news pages: trafilatura against the selectolax reader.

The MultiHop-RAG articles are rendered as web pages with clutter (bench/news_pages.py:
menus, ads, cookie banners, "Related" links, newsletter boxes, comments, footers) in
three styles: `semantic` (clutter in <nav>/<aside>/<footer>), `divs` (no <article> or
<main>, nothing labelled) and `inline` (divs, with ads and "Read more" links between the
paragraphs). Each extractor reads every page; printed per style and extractor:
    recall     share of the article's words (as a multiset) found in the extracted text
    precision  share of the extracted words that are the article's
    leaks      pages whose text holds any clutter (a marker word only clutter carries)
    title      pages whose title is the article's title exactly (no " | Site" suffix)
    source / date / author   pages where the metadata matches the article's
    ms/page    median extraction time

Usage: python bench/html_extractors.py [--corpus FILE] [--limit N]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, load
from bench.news_pages import CLUTTER_MARKERS, STYLES, load_articles, render_page

_WORD = re.compile(r"\w+")


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="../shared/data/multihop-rag/corpus.json")
    ap.add_argument("--limit", type=int, default=0, help="articles (0: all)")
    args = ap.parse_args()
    header("HTML main-text extraction: trafilatura vs selectolax", sys.argv)

    from rag.ingest.html import html_fields

    arts = load_articles(args.corpus)
    if args.limit:
        arts = arts[: args.limit]
    titles = [a["title"] for a in arts]
    print(f"articles {len(arts)}, styles {', '.join(STYLES)}")
    print()
    print(
        "| style | extractor | recall | precision | leaks | title | source | date | author "
        "| ms/page |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for style in STYLES:
        rng = random.Random(7)
        pages = [render_page(a, style, rng, titles) for a in arts]
        for extractor in ("selectolax", "trafilatura"):
            rec, prec, ms = [], [], []
            leaks = title_ok = src_ok = date_ok = auth_ok = n_auth = 0
            for a, page in zip(arts, pages, strict=True):
                t0 = time.perf_counter()
                f = html_fields(page, extractor=extractor)
                ms.append((time.perf_counter() - t0) * 1000)
                gold, got = words(a["body"]), words(f["body"])
                common = sum((gold & got).values())
                rec.append(common / max(1, sum(gold.values())))
                prec.append(common / max(1, sum(got.values())))
                leaks += any(m in f["body"] for m in CLUTTER_MARKERS)
                title_ok += f["title"] == " ".join(a["title"].split())
                src_ok += f.get("source") == a["source"]
                date_ok += (f.get("published_at") or "")[:10] == (a["published_at"] or "")[:10]
                if a.get("author") and a["author"] != "None":
                    n_auth += 1
                    auth_ok += f.get("author") == a["author"]
            n = len(arts)
            print(
                f"| {style} | {extractor} | {statistics.mean(rec):.3f} | "
                f"{statistics.mean(prec):.3f} | {leaks}/{n} | {title_ok}/{n} | {src_ok}/{n} | "
                f"{date_ok}/{n} | {auth_ok}/{n_auth} | {statistics.median(ms):.1f} |",
                flush=True,
            )
    print()
    print(f"end      {load()}")


if __name__ == "__main__":
    main()
