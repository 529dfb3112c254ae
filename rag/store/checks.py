"""Checks of an opened index against the current settings.

What it does not do: read files (rag.store.reader) or check their contents.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag.errors import IndexMismatchError


def check_compatible(
    manifest: dict[str, Any],
    wanted: dict[str, Any],
    index_dir: Path,
    *,
    keys: Iterable[str] | None = None,
) -> None:
    """Raise IndexMismatchError naming the first setting that differs from the index's."""
    built = manifest.get("settings", {})
    env = {
        "embedding_model": "RAG_EMBEDDING__MODEL",
        "max_tokens": "RAG_CHUNKING__MAX_TOKENS",
        "overlap_tokens": "RAG_CHUNKING__OVERLAP_TOKENS",
        "header": "RAG_CHUNKING__HEADER",
    }
    for k in keys if keys is not None else wanted:
        if k in built and built[k] != wanted.get(k):
            raise IndexMismatchError(
                f"index {index_dir} was built with {k}={built[k]!r} but the settings say "
                f"{wanted.get(k)!r}; rebuild it with `rag ingest --rebuild` or set "
                f"{env.get(k, k)}={built[k]}"
            )
