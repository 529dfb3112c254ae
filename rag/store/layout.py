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
import re
import time
from pathlib import Path
from typing import Any

FORMAT_VERSION = 3
CURRENT = "CURRENT"
LOCK = ".lock"
ASIDE_PREFIX = "damaged-"  # `rag index repair` keeps damaged generations under this prefix
_GEN_NAME = re.compile(r"gen-\d{6}")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def current_generation(index_dir: Path) -> str | None:
    """What CURRENT names (the live generation), or None when there is no CURRENT.

    The name is not checked here: `is_generation_name` and `open_index` do that."""
    try:
        raw = (Path(index_dir) / CURRENT).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return raw.decode("utf-8", errors="replace").strip() or None


def is_generation_name(name: str | None) -> bool:
    return bool(name) and _GEN_NAME.fullmatch(name or "") is not None


def generations(index_dir: Path) -> list[str]:
    """The committed generation folders of an index, oldest first (temporary ones and
    those set aside as damaged excluded)."""
    try:
        names = [p.name for p in Path(index_dir).iterdir() if p.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in names if is_generation_name(n))


def lock_index(index_dir: Path, timeout_s: float) -> Any:
    """The index's write lock (a filelock.FileLock), acquired: IndexBusyError when another
    process holds it past `timeout_s`, IndexWriteError when the lock file cannot be made."""
    from filelock import FileLock, Timeout

    from rag.errors import IndexBusyError
    from rag.store.write_errors import write_error

    lock = FileLock(str(Path(index_dir) / LOCK))
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout:
        raise IndexBusyError(
            f"index {index_dir} is locked by another ingest; wait for it to finish "
            "(or raise index.lock_timeout_s)"
        ) from None
    except OSError as e:  # a read-only folder
        live = current_generation(index_dir)
        raise write_error(e, Path(index_dir), generation=None, live=live) or e from None
    return lock


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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
