"""`rag index verify`, `rag index repair` and `rag index compact`: parsing and printing
only (the work is in rag.store.verify, rag.repair and rag.store.writer).

Exit codes: 0 intact (verify), repaired (repair) or compacted; 3 damage found (verify,
or a segment compact would rewrite) or an index repair could not bring back (repair);
1 no index, or it is locked by an ingest.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

index_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Check an index for damage (verify), bring a damaged one back (repair), merge its "
    "segments (compact).",
)

IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index folder (default: index.dir setting).")
]


def _settings(index: Path | None) -> Any:
    from rag.config import load_settings

    return load_settings(index={"dir": index} if index is not None else {})


def _out(msg: str) -> None:
    sys.stdout.write(msg.rstrip() + "\n")
    sys.stdout.flush()


@index_app.command("verify")
def verify(
    index: IndexOpt = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Sizes and headers only; no checksums.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check every file of every generation against its manifest's sizes and checksums."""
    from rag.errors import IndexNotFoundError
    from rag.store.verify import verify_index

    s = _settings(index)
    report = verify_index(s.index.dir, full=not quick)
    if not report.exists:
        raise IndexNotFoundError(
            f"no index at {s.index.dir}; build it with `rag ingest PATH --index {s.index.dir}`"
        )
    if as_json:
        _out(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in _lines(report):
            _out(line)
    if report.damaged:
        raise typer.Exit(3)


def _lines(report: Any) -> list[str]:
    from rag.store.write_errors import human

    out = [f"index {report.index}"]
    if report.current_problem:
        out.append(f"  CURRENT {report.current_problem}: DAMAGED")
    else:
        out.append(f"  CURRENT → {report.current}")
    for c in report.checks:
        m = c.manifest or {}
        counts = m.get("counts", {})
        what = (
            f"{counts.get('documents', '?')} documents, {counts.get('chunks', '?')} chunks, "
            f"updated {m.get('updated_at', '?')}"
            if m
            else "manifest unreadable"
        )
        head = f"  {c.generation} ({report.role(c.generation)}; {what})"
        if c.intact:
            how = (
                f"{c.files} files, {human(c.bytes)}, checksums match"
                if c.checksums and report.full
                else f"{c.files} files, sizes and headers match"
                if c.checksums
                else "no checksums recorded (written before they were): headers and SQLite checked"
            )
            out.append(f"{head}: intact ({how})")
        else:
            out.append(f"{head}: DAMAGED")
            out += [f"    {d.file or c.generation} {d.problem}" for d in c.damage]
    for name in report.leftovers:
        out.append(f"  {name}: left by an ingest that stopped before publishing (harmless)")
    for name in report.aside:
        out.append(f"  {name}: set aside by `rag index repair`; delete it when not needed")
    if report.damaged:
        target = report.live if report.live and report.live.intact else report.newest_intact()
        if target is None:
            plan = "no generation is intact: it rebuilds the index from its recorded inputs"
        elif target is report.live:
            plan = "the live generation is intact: it sets the damaged ones aside"
        else:
            plan = f"it points CURRENT to {target.generation}, the newest intact generation"
        out.append(f"damaged: run `rag index repair` ({plan})")
    else:
        out.append("intact")
    return out


@index_app.command("repair")
def repair(index: IndexOpt = None) -> None:
    """Set damaged generations aside and go back to the newest intact one (saying what
    that loses), or rebuild from the recorded inputs when none is intact."""
    from rag.repair import repair as run

    s = _settings(index)
    report = run(s, notice=_out)
    for line in report.lost:
        _out(f"lost: {line}")
    if not report.changed:
        _out(f"nothing to repair: {report.live} is intact")
    _out(
        f"index {report.index} answers from {report.live}: {report.documents} documents, "
        f"{report.chunks} chunks"
    )


@index_app.command("compact")
def compact(index: IndexOpt = None) -> None:
    """Merge every segment into one, dropping the rows of removed and replaced documents
    (ingests merge segments of a size in the background; this merges them all)."""
    import time

    from rag.errors import IndexNotFoundError
    from rag.store import IndexWriter, current_generation
    from rag.store.write_errors import human

    s = _settings(index)
    if current_generation(s.index.dir) is None:
        raise IndexNotFoundError(
            f"no index at {s.index.dir}; build it with `rag ingest PATH --index {s.index.dir}`"
        )
    t0 = time.perf_counter()
    with IndexWriter(
        s.index.dir,
        lock_timeout_s=s.index.lock_timeout_s,
        exact_up_to=s.index.exact_up_to,
        verify_up_to_mb=0,  # the merge checks every byte it rewrites
        merge_factor=0,
    ) as w:
        assert w.base is not None
        before = w.base.manifest
        segs = before.get("segments", [])
        dead = sum(m.get("deleted_chunks", 0) for m in segs)
        gen = w.compact()
        after = w.base.manifest
    if gen is None:
        _out(f"nothing to compact: index {s.index.dir} is one segment with nothing deleted")
        return
    size = sum(int(f.get("bytes", 0)) for f in after.get("files", {}).values())
    _out(
        f"index {s.index.dir}: {len(segs)} segments merged into one ({gen}): "
        f"{after['counts']['chunks']:,} chunks, {dead:,} deleted chunks dropped, "
        f"{human(size)}, in {time.perf_counter() - t0:.1f} s"
    )
