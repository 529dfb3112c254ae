"""Where things are in an index folder, and the small durable-write helpers.

Layout of an index folder:

    CURRENT            name of the live generation ("gen-000007"), replaced atomically
    gen-000007/        one complete, immutable snapshot
        manifest.json  format version, embedding model and dimension, chunk settings,
                       counts, timestamps, the segments and what was deleted from each
                       (tombstones), every file's size and checksum
        seg-000001/    a segment (rag.store.segment): the documents one commit or merge
        seg-000004/    wrote, with their vectors, sentence vectors and BM25 postings
    .lock              held by a writer (filelock), so two ingests never interleave
    merge-….tmp-PID/   a merge at work (rag.store.compaction)

A commit writes only its new segment; the segments it keeps are hard links to the
previous generation's files (a copy where the file system has no links), so a commit
costs what it adds, and every generation folder is still complete on its own.

What it does not do: read or write the generation's contents (rag.store.reader/writer).
"""

from __future__ import annotations

import errno
import json
import os
import re
import time
from pathlib import Path
from typing import Any

FORMAT_VERSION = 4
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


def link_tree(src: Path, dst: Path) -> None:
    """Recreate the folder `src` at `dst` with hard links to its files (a copy where the
    file system refuses links): committed files never change, so sharing them is safe."""
    import shutil

    for dirpath, _dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            a, b = Path(dirpath) / name, dst / rel / name
            try:
                os.link(a, b)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
                    raise
                shutil.copy2(a, b)


def _fsync_dirs(root: Path) -> None:
    """fsync every folder under `root` (their entries: files linked, not written)."""
    for dirpath, _dirs, _files in os.walk(root):
        _fsync_dir(Path(dirpath))


class _Writes:
    """A file seen by numpy as a plain stream (no fileno), so numpy writes it with
    `write()` and a full disk raises OSError(ENOSPC) instead of a short `tofile`."""

    def __init__(self, f: Any) -> None:
        self.f = f

    def write(self, b: bytes) -> int:
        return int(self.f.write(b))


def save_npy(path: Path, array: Any) -> None:
    """np.save through Python's file object (see _Writes)."""
    import numpy as np

    with open(path, "wb") as f:
        np.save(_Writes(f), array)  # type: ignore[arg-type]


def open_npy(path: Path, dtype: Any, shape: tuple[int, ...]) -> Any:
    """A new .npy file mapped for writing, its space reserved first (a full disk is an
    OSError here, not a SIGBUS while the map is written)."""
    import numpy as np

    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    with open(path, "r+b") as f:
        os.posix_fallocate(f.fileno(), 0, os.path.getsize(path))
    return out
