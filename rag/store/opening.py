"""Opening the live generation: find it through CURRENT, check it against its manifest,
then map its files (`open_index`).

Every open runs the cheap checks (rag.store.integrity: sizes, array headers, SQLite's
header, the manifest's own checksum), and hashes every byte when the generation holds
at most `verify_up_to_mb` MB (`index.verify_on_open_mb`, 256 by default: the bundled
index costs well under a millisecond, the 609-article MultiHop-RAG one ≈ 20-40 ms, see
bench/index_checksums.py). Any damage found is one `IndexCorruptError`.

What it does not do: fall back to another generation by itself (`rag index repair` does,
and says what that loses).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.store.integrity import REPAIR_HINT, Damage, check_generation, corrupt_error
from rag.store.layout import FORMAT_VERSION, current_generation, generations, is_generation_name
from rag.store.reader import GuardedDB, StoredIndex

VERIFY_ON_OPEN_MB = 256.0


def live_generation(index_dir: Path) -> str:
    """The generation CURRENT names; IndexNotFoundError when the folder holds no index,
    IndexCorruptError when CURRENT is missing beside generations, or is not a name."""
    index_dir = Path(index_dir)
    name = current_generation(index_dir)
    if name is None:
        kept = generations(index_dir)
        if kept:
            raise IndexCorruptError(
                f"index {index_dir} is damaged: its CURRENT file is missing (the folder holds "
                f"{', '.join(kept)}); {REPAIR_HINT}"
            )
        raise IndexNotFoundError(
            f"no index at {index_dir}; build it with `rag ingest` (or `rag ingest PATH "
            f"--index {index_dir}`)"
        )
    if not is_generation_name(name):
        raise IndexCorruptError(
            f"index {index_dir} is damaged: its CURRENT file holds {name[:40]!r}, not a "
            f"generation name; {REPAIR_HINT}"
        )
    return name


def open_index(index_dir: Path, *, verify_up_to_mb: float = VERIFY_ON_OPEN_MB) -> StoredIndex:
    """Open the live generation of an index folder, read-only, after checking it.

    `verify_up_to_mb`: hash every byte when the generation holds at most this much
    (math.inf: always, as an ingest does before copying it; 0: cheap checks only).
    Tries again when a writer published a newer generation (and removed the one being
    opened) meanwhile.
    """
    index_dir = Path(index_dir)
    for attempt in range(3):
        gen = live_generation(index_dir)
        try:
            return _open_generation(index_dir, gen, verify_up_to_mb)
        except IndexCorruptError:
            if attempt < 2 and current_generation(index_dir) != gen:
                continue
            raise
    raise AssertionError("unreachable")


def _open_generation(index_dir: Path, gen: str, verify_up_to_mb: float) -> StoredIndex:
    import numpy as np

    check = check_generation(index_dir, gen)
    manifest = check.manifest
    if manifest is not None and manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index {index_dir} has format {manifest.get('format')}, this version reads "
            f"format {FORMAT_VERSION}; run `rag ingest --rebuild`"
        )
    if check.damage:
        if check.damage[0].file == "":  # the folder itself is gone
            raise IndexCorruptError(
                f"index {index_dir} is damaged: CURRENT names {gen}, which is missing; "
                f"{REPAIR_HINT}"
            )
        raise corrupt_error(index_dir, check.damage)
    assert manifest is not None
    small = check.checksums and check.bytes <= verify_up_to_mb * 1e6
    if small or math.isinf(verify_up_to_mb):
        full = check_generation(index_dir, gen, full=True)
        if full.damage:
            raise corrupt_error(index_dir, full.damage)
    path = index_dir / gen
    db_path = path / "chunks.sqlite"
    try:
        # immutable=1: a committed generation never changes: no locks, no journal
        con = sqlite3.connect(
            f"file:{db_path}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
    except sqlite3.DatabaseError as e:
        damage = Damage(gen, "chunks.sqlite", f"cannot be opened ({e})")
        raise corrupt_error(index_dir, [damage]) from None
    db = GuardedDB(con, index_dir, gen)
    arrays = {}
    for rel in ("vectors.npy", "sentences.npy"):
        f = path / rel
        if rel == "sentences.npy" and not f.is_file():
            arrays[rel] = None
            continue
        try:
            arrays[rel] = np.load(f, mmap_mode="r")
        except (OSError, ValueError) as e:
            db.close()
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)[:100]
            raise corrupt_error(index_dir, [Damage(gen, rel, f"is unreadable ({why})")]) from None
    return StoredIndex(index_dir, gen, manifest, arrays["vectors.npy"], db, arrays["sentences.npy"])
