"""The chat's welcome screen: what is loaded, and example questions about it (no
chainlit import, unit-tested).

- `welcome_markdown`: the welcome line from `Pipeline.describe()` (articles, passages,
  publication dates, the answerer).
- `starter_questions`: example questions built from the titles of the loaded index's
  newest articles, never a fixed topic; none for an empty index.

What it does not do: talk to chainlit or read the index (app.py passes what it read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rag.chat.render import format_date, md_escape
from rag.text import quoted


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def welcome_markdown(info: Mapping[str, Any] | None, problem: str | None = None) -> str:
    """The welcome line from `Pipeline.describe()`: what is loaded, over which dates."""
    if info is None:
        return f"**The articles could not be loaded.** {md_escape(problem or '')}"
    docs, chunks = int(info.get("documents") or 0), int(info.get("chunks") or 0)
    if docs == 0:
        return "**No articles are loaded yet.** Add some with `rag ingest PATH`."
    first, last = info.get("first_published"), info.get("last_published")
    if first and last and first != last:
        when = f"published {format_date(first)} – {format_date(last)}"
    elif first:
        when = f"published {format_date(first)}"
    else:
        when = "their publication dates are not given"
    model = str(info.get("model") or "")
    answerer = (
        "the built-in offline answerer" if model == "offline" else f"the model {md_escape(model)}"
    )
    return (
        f"**{_plural(docs, 'article')}** ({_plural(chunks, 'passage')}) loaded; {when}. "
        f"Answers come from {answerer}, and every sentence cites its passage: "
        "click a marker like **\\[1\\]** to read it."
    )


# --------------------------------------------------------------------------- starters

STARTERS = 4
STARTER_TITLE_CHARS = 56


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def starter_questions(
    rows: Sequence[Mapping[str, Any]], limit: int = STARTERS
) -> list[dict[str, str]]:
    """Example questions about the loaded articles, the newest first (undated ones in
    index order, after the dated): {"label": shown on the button, "message": sent}.
    One per title; none for an empty index."""
    dated = sorted(
        (r for r in rows if r.get("published_at")),
        key=lambda r: str(r["published_at"]),
        reverse=True,
    )
    undated = [r for r in rows if not r.get("published_at")]
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for r in [*dated, *undated]:
        title = " ".join(str(r.get("title") or "").split())
        if not title or title.casefold() in seen:
            continue
        seen.add(title.casefold())
        out.append(
            {
                "label": f"What does {quoted(_cut(title, STARTER_TITLE_CHARS))} say?",
                "message": f"What does {quoted(title)} say?",
            }
        )
        if len(out) == limit:
            break
    return out
