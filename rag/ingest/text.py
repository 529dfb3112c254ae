"""Markdown and plain text: optional YAML front matter, a title from it or the first line.

What it does not do: decode bytes (see `files.decode`) or render Markdown.
"""

from __future__ import annotations

import re
from typing import Any

from rag.ingest.common import Items, Skipped, as_str, clean, finish

_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)


def read_text(text: str, doc_id: str, where: str) -> Items:
    text = clean(text)
    meta: dict[str, Any] = {}
    m = _FRONT.match(text)
    if m:
        import yaml

        try:
            loaded = yaml.safe_load(m.group(1))
            if not isinstance(loaded, dict):
                raise ValueError("front matter is not a mapping")
            meta = loaded
        except (yaml.YAMLError, ValueError) as e:
            first = str(e).splitlines()[0] if str(e) else "invalid YAML"
            yield Skipped(where, f"front matter ignored ({first})", kept=True)
        text = text[m.end() :]
    elif text.startswith("---\n"):
        yield Skipped(where, "front matter has no closing '---'; read as text", kept=True)
    yield from finish(meta, doc_id, as_str(meta.get("title")), text.strip("\n"), where)
