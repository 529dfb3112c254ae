"""`repair`: bring a damaged index back to one that answers, saying what it did and lost.

Under the index's write lock, after a full `verify_index`:
  1. every damaged generation is set aside as `damaged-gen-NNNNNN` (renamed, never
     deleted; the report says where it went);
  2. when the live generation is intact, CURRENT stays as it is; otherwise CURRENT is
     pointed at the newest intact generation, and the report lists what that loses
     (documents added or updated after it, inputs it does not record) and how to get
     it back (`rag ingest`);
  3. when no generation is intact, the index is rebuilt from the inputs the newest
     readable manifest records (`rag ingest --rebuild` on them). When no manifest can
     be read, the damaged generations are still set aside and the error says to name
     the inputs.
Temporary folders of a stopped ingest are removed (they are never live).

What it does not do: repair a file in place, or touch an index that is intact.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.store import open_index
from rag.store.layout import lock_index
from rag.store.verify import IndexReport, clear_current, point_current, set_aside, verify_index


@dataclass
class RepairReport:
    index: Path
    before: IndexReport
    actions: list[str] = field(default_factory=list)  # what was done, one line each
    lost: list[str] = field(default_factory=list)  # what going back loses, and how to get it
    live: str | None = None  # the live generation afterwards
    documents: int = 0
    chunks: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def repair(
    settings: Settings,
    *,
    notice: Callable[[str], None] | None = None,
    ingest: Callable[..., Any] | None = None,
) -> RepairReport:
    """Repair the index of `settings` (see the module docstring). `notice` hears each
    action as it is done; `ingest` is rag.api.ingest (passed in to keep this module free
    of the embedding stack until a rebuild needs it)."""
    index_dir = Path(settings.index.dir)
    say = notice or (lambda _msg: None)
    lock = lock_index(index_dir, settings.index.lock_timeout_s)
    try:
        before = verify_index(index_dir)
        out = RepairReport(index_dir, before)
        if not before.exists:
            raise IndexNotFoundError(
                f"no index at {index_dir} to repair; build it with `rag ingest PATH --index "
                f"{index_dir}`"
            )
        for name in before.leftovers:
            shutil.rmtree(index_dir / name, ignore_errors=True)
            _act(out, say, f"removed {name}, left by an ingest that stopped before publishing")
        live = before.live
        target = live if live is not None and live.intact else before.newest_intact()
        moves = target is not None and (
            target.generation != before.current or before.current_problem is not None
        )
        # what going back loses, read before the damaged generation is renamed
        lost = _lost(before, target.generation) if moves and target is not None else []
        for c in before.checks:
            if not c.intact:
                kept = set_aside(index_dir, c.generation)
                first = c.damage[0]
                more = f" and {len(c.damage) - 1} more" if len(c.damage) > 1 else ""
                _act(
                    out,
                    say,
                    f"kept damaged {c.generation} aside as {kept} ({first}{more}); delete it "
                    "when you no longer need it",
                )
        inputs: list[str] = []
        if target is not None:
            if target.generation != before.current or before.current_problem:
                point_current(index_dir, target.generation)
                was = (
                    f"CURRENT {before.current_problem}"
                    if before.current_problem
                    else f"it named {before.current}"
                )
                _act(
                    out,
                    say,
                    f"CURRENT now names {target.generation}, the newest intact generation ({was})",
                )
                out.lost = lost
        else:
            if before.current is not None:
                clear_current(index_dir)
            readable = [c.manifest for c in before.checks if c.manifest is not None]
            inputs = [str(p) for p in (readable[0].get("inputs", []) if readable else [])]
    finally:
        lock.release()
    if target is None:
        there = [p for p in inputs if Path(p).exists()]
        if not there:
            what = "none records its inputs"
            if inputs:
                what = f"its inputs ({', '.join(inputs)}) are gone"
            raise IndexCorruptError(
                f"index {index_dir}: no generation is intact and {what}; rebuild it with "
                f"`rag ingest PATH --index {index_dir}`"
            )
        inputs = there
        if ingest is None:
            from rag.api import ingest
        _act(out, say, f"no generation is intact: rebuilding from {', '.join(inputs)}")
        ingest(inputs, settings, rebuild=True)
    idx = open_index(index_dir, verify_up_to_mb=float("inf"))
    out.live, out.documents, out.chunks = idx.generation, len(idx.doc_rows()), idx.n_chunks
    idx.close()
    return out


def _act(out: RepairReport, say: Callable[[str], None], line: str) -> None:
    out.actions.append(line)
    say(line)


def _lost(before: IndexReport, target: str) -> list[str]:
    """What CURRENT moving from the damaged live generation to `target` loses."""
    new = next(c.manifest for c in before.checks if c.generation == target)
    assert new is not None
    old_check = before.live or next(
        (c for c in before.checks if c.generation == before.current), None
    )
    if old_check is None or before.current_problem is not None:
        if before.checks and before.checks[0].generation == target:
            return [f"nothing, most likely: {target} is the newest generation in the folder"]
        return [
            "what the generation CURRENT named held beyond it is unknown; `rag ingest` reads "
            "the recorded inputs again and adds anything missing"
        ]
    old = old_check.manifest
    if old is None:
        return [
            f"what {old_check.generation} held beyond {target} is unknown (its manifest is "
            "damaged); `rag ingest` reads the recorded inputs again and adds anything missing"
        ]
    from rag.store.verify import generation_records

    old_docs = generation_records(before.index, old_check.generation, old)
    new_docs = generation_records(before.index, target, new)
    unread = old_docs.pop(None, [])
    new_docs.pop(None, None)
    added = sorted(d for d in old_docs if d not in new_docs)
    updated = sorted(
        d for d in old_docs if d in new_docs and old_docs[d].get("hash") != new_docs[d].get("hash")
    )
    back = sorted(d for d in new_docs if d not in old_docs)
    n_added = len(added)
    if unread:  # documents of a damaged segment: counted, not named
        back = []
        n_added += sum(n for _, n in unread)
        added += [f"{n} in the damaged {name}/chunks.sqlite" for name, n in unread if n > 0]
    lines = []
    if added or updated:
        parts = []
        if added:
            parts.append(f"{_n(n_added, 'document')} added ({_some(added)})")
        if updated:
            parts.append(f"{_n(len(updated), 'document')} updated ({_some(updated)})")
        lines.append(
            f"this loses what {old_check.generation} changed after {target}: "
            f"{' and '.join(parts)}; `rag ingest` adds them back from the recorded inputs"
        )
    missing_inputs = sorted(set(old.get("inputs", [])) - set(new.get("inputs", [])))
    if missing_inputs:
        lines.append(
            f"{target} does not record the input(s) {', '.join(missing_inputs)}: "
            f"`rag ingest {' '.join(missing_inputs)}` reads them again"
        )
    if back:
        lines.append(
            f"{_n(len(back), 'document')} that {old_check.generation} had removed are back "
            f"({_some(back)}); `rag ingest --prune` removes them again"
        )
    return lines or [f"nothing: {target} holds the same documents"]


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _some(ids: list[str], n: int = 3) -> str:
    return ", ".join(ids[:n]) + (" …" if len(ids) > n else "")
