"""Write errors of an ingest (disk full, permission denied, I/O error) as one line.

`write_error` turns the OSError, SQLite or FAISS error of a failed write into
`IndexWriteError`: the index, the free space the generation needs (and how much there
is) or the path refused, the fix, and that the live generation is untouched. The writer
has removed its temporary folder before the message is built, so the free space it
reports is what the user really has.

What it does not do: clean up (rag.store.writer does, then calls this).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
from pathlib import Path

from rag.errors import IndexWriteError

# bytes per chunk of a generation (chunk table, vectors, sentence vectors, BM25), measured
# on the MultiHop-RAG index (90.6 MB for 7,497 chunks); used when there is no base to scale
BYTES_PER_CHUNK = 12_500
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS}
# SQLite primary result codes: FULL, IOERR, READONLY, CANTOPEN, PERM
_SQLITE = {13: errno.ENOSPC, 10: errno.EIO, 8: errno.EROFS, 14: errno.EACCES, 3: errno.EACCES}


def classify(e: BaseException, default_path: Path | None = None) -> tuple[int, str] | None:
    """(errno, path) of a failed write, or None when `e` is no write error."""
    if isinstance(e, OSError) and e.errno is not None:
        return e.errno, str(e.filename or default_path or "")
    if isinstance(e, RuntimeError) and "No space left" in str(e):  # FAISS writing a file
        return errno.ENOSPC, str(default_path or "")
    if isinstance(e, sqlite3.DatabaseError):
        code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
        if code in _SQLITE:
            return _SQLITE[code], str(default_path or "")
    return None


def human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def mount_point(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p):
        p = p.parent
    return p


def write_error(
    e: BaseException,
    index_dir: Path,
    *,
    generation: str | None,
    live: str | None,
    needed: int | None = None,
    path: Path | None = None,
    documents: int | None = None,
) -> IndexWriteError | None:
    """The one-line IndexWriteError for `e`, or None when it is no write error."""
    found = classify(e, path)
    if found is None:
        return None
    code, where = found
    index_dir = Path(index_dir)
    rel = _relative(where, index_dir)
    if live is None:
        kept = "nothing was stored (the index holds no generation yet)"
    elif documents is None:
        kept = f"the index keeps its live generation untouched ({live})"
    else:
        kept = f"the index keeps its {documents} documents untouched ({live})"
    doing = f"writing {generation}" if generation else "writing"
    try:
        free = shutil.disk_usage(mount_point(index_dir)).free
    except OSError:
        free = None
    if code in _FULL or (needed is not None and free is not None and free < needed):
        need = f"it needs about {human(needed)} free" if needed else "it needs more free space"
        have = f", {human(free)} is free on {mount_point(index_dir)}" if free is not None else ""
        return IndexWriteError(
            f"index {index_dir}: disk full {doing} ({rel}): {need}{have}; free some space or "
            f"put the index elsewhere (--index DIR); {kept}"
        )
    if code in _REFUSED:
        why = "read-only file system" if code == errno.EROFS else "permission denied"
        return IndexWriteError(
            f"index {index_dir}: {why} writing {where or index_dir}; make it writable or put "
            f"the index elsewhere (--index DIR); {kept}"
        )
    return IndexWriteError(
        f"index {index_dir}: {os.strerror(code).lower()} {doing} ({rel}); check the disk "
        f"(`dmesg`), then run the ingest again; {kept}"
    )


def _relative(where: str, index_dir: Path) -> str:
    if not where:
        return "its files"
    try:
        rel = Path(where).resolve().relative_to(index_dir.resolve()).as_posix()
    except ValueError:
        return where
    return re.sub(r"^(gen-\d{6})\.tmp-\d+", r"\1", rel)  # the folder it would have become
