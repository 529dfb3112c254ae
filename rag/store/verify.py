"""Every generation of an index checked (`verify_index`), and the file moves that repair
makes: set a damaged generation aside, point CURRENT at another one.

`verify_index` reads, never writes: like `git fsck` or `restic check`, it reports every
damaged file of every generation, whether CURRENT is sound, which generation is the
newest intact one, and what earlier repairs set aside. The decisions (which generation to
go back to, when to rebuild) are rag.repair's.

What it does not do: delete. A damaged generation is renamed `damaged-gen-NNNNNN`
(never `gen-…`, so no writer counts or collects it) and stays until the user deletes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.store.integrity import GenerationCheck, check_generation
from rag.store.layout import (
    ASIDE_PREFIX,
    CURRENT,
    _fsync_dir,
    _write_atomic,
    current_generation,
    generations,
    is_generation_name,
)


@dataclass
class IndexReport:
    """What `verify_index` found."""

    index: Path
    current: str | None  # what CURRENT says (None: there is no CURRENT)
    current_problem: str | None  # why CURRENT cannot be followed (None: it can)
    checks: list[GenerationCheck] = field(default_factory=list)  # newest first
    leftovers: list[str] = field(default_factory=list)  # temporary folders of a stopped ingest
    aside: list[str] = field(default_factory=list)  # damaged generations set aside earlier
    full: bool = True

    @property
    def live(self) -> GenerationCheck | None:
        if self.current_problem is not None:
            return None
        return next((c for c in self.checks if c.generation == self.current), None)

    @property
    def damaged(self) -> bool:
        return self.current_problem is not None or any(not c.intact for c in self.checks)

    @property
    def exists(self) -> bool:
        return self.current is not None or bool(self.checks)

    def newest_intact(self) -> GenerationCheck | None:
        return next((c for c in self.checks if c.intact), None)

    def role(self, gen: str) -> str:
        """live, previous (the one kept for readers), unpublished (newer than the live one:
        an ingest stopped between writing and publishing it) or older."""
        if gen == self.current and self.current_problem is None:
            return "live"
        if self.current_problem is None and self.current and gen > self.current:
            return "unpublished"
        older = [c.generation for c in self.checks if self.current and c.generation < self.current]
        if self.current_problem is None and older and gen == max(older):
            return "previous"
        return "older"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": str(self.index),
            "current": self.current,
            "current_problem": self.current_problem,
            "damaged": self.damaged,
            "full": self.full,
            "generations": [
                {
                    "name": c.generation,
                    "role": self.role(c.generation),
                    "intact": c.intact,
                    "checksums": c.checksums,
                    "files": c.files,
                    "bytes": c.bytes,
                    "documents": (c.manifest or {}).get("counts", {}).get("documents"),
                    "chunks": (c.manifest or {}).get("counts", {}).get("chunks"),
                    "updated_at": (c.manifest or {}).get("updated_at"),
                    "damage": [{"file": d.file, "problem": d.problem} for d in c.damage],
                }
                for c in self.checks
            ],
            "leftovers": self.leftovers,
            "aside": self.aside,
        }


def verify_index(index_dir: Path, *, full: bool = True) -> IndexReport:
    """Check CURRENT and every generation (`full`: every byte against its checksum)."""
    index_dir = Path(index_dir)
    current = current_generation(index_dir)
    gens = generations(index_dir)
    problem: str | None = None
    if current is None:
        problem = "is missing" if gens else None
    elif not is_generation_name(current):
        problem = f"holds {current[:40]!r}, not a generation name"
    elif current not in gens:
        problem = f"names {current}, which is missing"
    report = IndexReport(index_dir, current, problem, full=full)
    for gen in reversed(gens):
        check = check_generation(index_dir, gen, full=full)
        if check.damage and not (index_dir / gen).exists():
            continue  # collected by an ingest while we were checking: not damage
        report.checks.append(check)
    try:
        names = sorted(p.name for p in index_dir.iterdir())
    except OSError:
        names = []
    report.leftovers = [n for n in names if n.startswith("gen-") and ".tmp-" in n]
    report.aside = [n for n in names if n.startswith(ASIDE_PREFIX)]
    return report


def set_aside(index_dir: Path, gen: str) -> str:
    """Rename a damaged generation to `damaged-gen-NNNNNN` (numbered if taken)."""
    index_dir = Path(index_dir)
    name = f"{ASIDE_PREFIX}{gen}"
    n = 1
    while (index_dir / name).exists():
        n += 1
        name = f"{ASIDE_PREFIX}{gen}-{n}"
    os.rename(index_dir / gen, index_dir / name)
    _fsync_dir(index_dir)
    return name


def point_current(index_dir: Path, gen: str) -> None:
    """Make `gen` the live generation (atomically, as a writer publishes)."""
    _write_atomic(Path(index_dir) / CURRENT, gen + "\n")


def clear_current(index_dir: Path) -> None:
    """Remove CURRENT (when no generation is left to name)."""
    (Path(index_dir) / CURRENT).unlink(missing_ok=True)
    _fsync_dir(Path(index_dir))


def generation_records(index_dir: Path, gen: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Per live document of a generation, its record (hash, origin, chunks, updated_at),
    read from its segments; segments that cannot be read are skipped and listed under the
    key None with the number of documents they hold."""
    import sqlite3

    out: dict[Any, Any] = {}
    unread: list[tuple[str, int]] = []
    for m in manifest.get("segments", []):
        db = Path(index_dir) / gen / m["name"] / "chunks.sqlite"
        deleted = set(m.get("deleted", []))
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
            try:
                rows = con.execute("SELECT id, hash FROM docs").fetchall()
            finally:
                con.close()
        except sqlite3.DatabaseError:
            unread.append((m["name"], int(m.get("documents", 0)) - len(deleted)))
            continue
        out.update((r[0], {"hash": r[1]}) for r in rows if r[0] not in deleted)
    if unread:
        out[None] = unread
    return out
