"""One ingest job of `rag serve`, run as a child process: `python -m rag.serve.ingest_worker`.

Reads `{"settings": {...}, "paths": [...]}` on stdin, runs `rag.api.ingest` on the
paths, and writes its progress as JSON lines on stdout:

    {"event": "start", "total": 120}        chunks to embed
    {"event": "advance", "n": 32}           chunks just embedded
    {"event": "notice", "text": "..."}
    {"event": "done", "report": {...}}      the IngestReport
    {"event": "error", "message": "...", "kind": "InputError"}

A child process, not a thread of the server: embedding and chunking never hold the
server's GIL, the child runs at a lower CPU priority (nice 10) so answers come first,
and whatever it allocates goes back to the system when it ends. A killed child leaves
the index as it was (ingest publishes generations atomically).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict
from typing import Any


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def main() -> int:
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    from rag.api import IngestProgress, ingest
    from rag.config import load_settings
    from rag.errors import RagError

    try:
        job = json.loads(sys.stdin.read())
        settings = load_settings(**job["settings"])
        report = ingest(
            job["paths"],
            settings,
            progress=IngestProgress(
                on_start=lambda total: emit(event="start", total=total),
                on_advance=lambda n: emit(event="advance", n=n),
                on_notice=lambda text: emit(event="notice", text=text),
            ),
        )
    except RagError as e:
        emit(event="error", message=str(e), kind=type(e).__name__)
        return 1
    d = asdict(report)
    d["index"] = str(report.index)
    emit(event="done", report=d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
