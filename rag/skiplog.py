"""The files an index's last ingest skipped, so that the next one reports only new skips.

A folder with a broken file is re-ingested again and again; repeating the same "skipped
…" line every time buries what is new. `update` keeps `skipped.json` in the index folder
(file or record → reason) and returns the skips that were not there, with the same
reason, last time. It is a note for messages, not part of the index: a missing or
unreadable file means "nothing was skipped before".

What it does not do: decide what to skip (see `rag.ingest`) or print (the CLI does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from rag.ingest import Skipped

FILE = "skipped.json"
VERSION = 1


def _load(index_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((index_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    seen = data.get("skipped")
    return {str(k): str(v) for k, v in seen.items()} if isinstance(seen, dict) else {}


def update(index_dir: Path | str, skipped: Sequence[Skipped]) -> list[Skipped]:
    """Record this ingest's skips; return those the previous record did not hold."""
    index_dir = Path(index_dir)
    before = _load(index_dir)
    new = [x for x in skipped if before.get(x.where) != x.reason]
    now = {x.where: x.reason for x in skipped}
    if now != before:
        tmp = index_dir / f".{FILE}.tmp-{os.getpid()}"
        try:
            tmp.write_text(
                json.dumps({"version": VERSION, "skipped": now}, ensure_ascii=False, indent=1),
                encoding="utf-8",
            )
            os.replace(tmp, index_dir / FILE)
        except OSError:  # a note only: never fail an ingest over it
            tmp.unlink(missing_ok=True)
    return new
