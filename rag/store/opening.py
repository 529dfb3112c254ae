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
from pathlib import Path

from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.store.integrity import REPAIR_HINT, check_generation, corrupt_error
from rag.store.layout import FORMAT_VERSION, current_generation, generations, is_generation_name
from rag.store.reader import StoredIndex
from rag.store.seg_reader import Segment

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
    segments: list[Segment] = []
    try:
        for meta in manifest.get("segments", []):
            segments.append(Segment(index_dir, gen, meta))
    except BaseException:
        for seg in segments:
            seg.close()
        raise
    return StoredIndex(index_dir, gen, manifest, segments)
