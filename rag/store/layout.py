"""Where things are in an index folder, and the small durable-write helpers.

Layout of an index folder:

    CURRENT            name of the live generation ("gen-000007"), replaced atomically
    gen-000007/        one complete, immutable snapshot
        manifest.json  format version, embedding model and dimension, chunk settings,
                       document hashes, counts, timestamps
        chunks.sqlite  documents and chunks (text, spans, sentence spans); chunk row
                       `pos` is its row in the vector matrix
        vectors.npy    float32 (n_chunks, dim), L2-normalised
        sentences.npy  float16, one vector per sentence of each chunk (late chunking: from
                       the chunk's own forward pass), rows from chunks.sent_row on
        index.faiss    only for approximate indexes; flat ones are built at load
        lexical/       BM25 over the chunks' terms (header and passage) and over their
                       sentences (rag.lexical), built at commit
        (chunks.sqlite's `flags` table: sentences suspected of being instructions to AI
        systems, written at commit; see rag.store.flags)
    .lock              held by a writer (filelock), so two ingests never interleave

What it does not do: read or write the generation's contents (rag.store.reader/writer).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

FORMAT_VERSION = 3
CURRENT = "CURRENT"
LOCK = ".lock"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def current_generation(index_dir: Path) -> str | None:
    """Name of the live generation, or None when the folder holds no index."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
