"""News articles rendered as cluttered web pages and as PDFs, for the ingest benches.

`render_page(article, style, rng)` wraps a MultiHop-RAG article (title, source, date,
author, body) in a page as news sites serve them: a menu, ads, a cookie banner, share
buttons, "Related" links (titles of other articles), a newsletter box, reader comments
and a footer. Three styles:
    semantic  <header><nav>, <article>, <aside>, <footer> (the clutter is labelled)
    divs      only <div>s with class names: no <article>/<main>, nothing labelled
    inline    like divs, with ads and "Read more" links between the paragraphs
Every clutter string carries a marker word from `CLUTTER_MARKERS`, so a bench can count
the pages whose extracted text leaks any. The <title> carries the site suffix
("Title | Source"), as real pages do.
"""

from __future__ import annotations

import html
import random
from typing import Any

STYLES = ("semantic", "divs", "inline")
CLUTTER_MARKERS = ("Zorblax", "Quindle", "Frobozz")  # words no article contains
_ADS = [
    "Buy the new Zorblax Phone 15 today — only $799 with free shipping!",
    "Zorblax Insurance: compare quotes in two minutes and save up to 40%.",
    "Limited offer: Zorblax streaming for $1 a month. Cancel anytime.",
]
_MENU = ["Home", "World", "Business", "Tech", "Sport", "Culture", "Opinion", "Video"]


def _e(s: str) -> str:
    return html.escape(s, quote=True)


def _paragraphs(body: str) -> list[tuple[str, str]]:
    out = []
    for p in body.split("\n\n"):
        p = " ".join(p.split())
        if not p:
            continue
        short = len(p) < 70 and not p.endswith((".", "?", "!", '"', "”"))
        out.append(("h2" if short else "p", p))
    return out


def render_page(article: dict[str, Any], style: str, rng: random.Random, others: list[str]) -> str:
    """One cluttered page of `article`; `others` are titles for the "Related" box."""
    title, source = article["title"], article.get("source") or "The Daily Example"
    date, author = article.get("published_at") or "", article.get("author") or ""
    related = rng.sample(others, k=min(5, len(others)))
    paras = _paragraphs(article["body"])
    head = (
        f"<head><meta charset='utf-8'><title>{_e(title)} | {_e(source)}</title>"
        f"<meta property='og:site_name' content='{_e(source)}'>"
        f"<meta property='article:published_time' content='{_e(date)}'>"
        + (f"<meta name='author' content='{_e(author)}'>" if author and author != "None" else "")
        + "<script>window.dataLayer=[];function track(){}</script>"
        "<style>.ad{border:1px solid #ccc}</style></head>"
    )
    menu_items = "".join(f"<li><a href='/{m.lower()}'>{m}</a></li>" for m in _MENU)
    menu_items += "<li><a href='/zorblax'>Zorblax Deals</a></li>"
    cookie = (
        "We use cookies to improve your Zorblax experience. By continuing you accept our "
        "<a href='/privacy'>privacy policy</a>. <button>Accept all</button>"
    )
    share = "Share: <a href='#'>Facebook</a> <a href='#'>X</a> <a href='#'>Email Quindle</a>"
    related_html = "".join(f"<li><a href='/r{i}'>{_e(t)}</a></li>" for i, t in enumerate(related))
    newsletter = (
        "Sign up for the Quindle Morning Briefing: the day's top stories in your inbox. "
        "<input type='email' placeholder='Email'><button>Subscribe</button>"
    )
    comments = "".join(
        f"<div class='comment'><b>reader{rng.randint(1, 999)}</b> Great Quindle piece, "
        f"thanks! I disagree with point {rng.randint(1, 5)} though.</div>"
        for _ in range(3)
    )
    footer = (
        f"© 2024 {_e(source)} Frobozz Media Group. <a href='/terms'>Terms</a> "
        "<a href='/about'>About us</a> <a href='/jobs'>Careers at Frobozz</a>"
    )
    byline = f"By {_e(author)} · {_e(date[:10])}" if author and author != "None" else _e(date[:10])
    blocks = [f"<{tag}>{_e(text)}</{tag}>" for tag, text in paras]
    if style == "inline":
        out = []
        for i, b in enumerate(blocks):
            out.append(b)
            if i % 4 == 3:
                out.append(f"<div class='ad-slot'>{_e(rng.choice(_ADS))}</div>")
            if i % 6 == 5:
                link = f"<a href='/x'>{_e(related[0])}</a>"
                out.append(f"<div class='read-more'>Read more: {link}</div>")
        blocks = out
    content = "\n".join(blocks)
    if style == "semantic":
        body = (
            f"<body><div class='cookie'>{cookie}</div><header><nav><ul>{menu_items}</ul></nav>"
            f"</header><div class='ad'>{_e(_ADS[0])}</div><main><article><h1>{_e(title)}</h1>"
            f"<p class='byline'>{byline}</p><div class='share'>{share}</div>{content}"
            f"</article><aside><h3>Related</h3><ul>{related_html}</ul></aside>"
            f"<section class='newsletter'>{newsletter}</section>"
            f"<section class='comments'><h3>Comments</h3>{comments}</section></main>"
            f"<footer>{footer}</footer></body>"
        )
    else:
        body = (
            f"<body><div class='cookie-banner'>{cookie}</div>"
            f"<div class='top'><div class='logo'>{_e(source)}</div><div class='menu'><ul>"
            f"{menu_items}</ul></div></div><div class='ad'>{_e(_ADS[0])}</div>"
            f"<div class='wrap'><div class='col-main'><h1>{_e(title)}</h1>"
            f"<div class='byline'>{byline}</div><div class='share'>{share}</div>"
            f"<div class='story'>{content}</div></div>"
            f"<div class='col-side'><h3>Related</h3><ul>{related_html}</ul>"
            f"<div class='ad'>{_e(_ADS[1])}</div></div></div>"
            f"<div class='newsletter'>{newsletter}</div>"
            f"<div class='comments'><h3>Comments</h3>{comments}</div>"
            f"<div class='bottom'>{footer}</div></body>"
        )
    return f"<!DOCTYPE html><html lang='en'>{head}{body}</html>"


def load_articles(path: str) -> list[dict[str, Any]]:
    import json

    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return data if isinstance(data, list) else next(v for v in data.values() if isinstance(v, list))
