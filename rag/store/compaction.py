"""A merge of segments running beside an ingest (`BackgroundMerge`), and where it works.

The writer starts one after a commit when rag.store.merge.plan finds segments to merge.
It works in `merge-NNNNNN.tmp-PID/` inside the index folder: `src/` holds hard links to
its sources (so collecting an old generation never removes a file it reads), `out/` the
merged segment. The writer's next commit swaps the finished segment in for its sources;
documents deleted from a source meanwhile become tombstones of the merged segment. A
merge that fails or is cancelled leaves nothing behind; one left by a killed process is
removed by the next writer (rag.store.writer._clean_aside).

What it does not do: decide what to merge (rag.store.merge.plan) or publish.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from rag.store.layout import link_tree
from rag.store.merge import Source, _Cancelled, merge

log = logging.getLogger("rag")
MERGE_PREFIX = "merge-"


class BackgroundMerge:
    def __init__(
        self,
        index_dir: Path,
        generation: str,
        manifest: dict[str, Any],
        names: list[str],
        out_name: str,
        *,
        exact_up_to: int,
        background: bool = True,
    ) -> None:
        self.names = names
        self.out_name = out_name
        self.work = index_dir / f"{MERGE_PREFIX}{out_name[4:]}.tmp-{os.getpid()}"
        self.started_with = {
            m["name"]: set(m.get("deleted", [])) for m in manifest["segments"] if m["name"] in names
        }
        self.result: dict[str, Any] | None = None
        self.files: dict[str, Any] = {}
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        gen_dir = index_dir / generation
        sources = []
        self.work.mkdir()
        for m in manifest["segments"]:
            if m["name"] not in names:
                continue
            dst = self.work / "src" / m["name"]
            link_tree(gen_dir / m["name"], dst)
            prefix = m["name"] + "/"
            files = {
                rel[len(prefix) :]: e
                for rel, e in manifest.get("files", {}).items()
                if rel.startswith(prefix)
            }
            sources.append(Source(dst, dict(m), files))
        args = dict(
            index_dir=index_dir,
            generation=generation,
            exact_up_to=exact_up_to,
            dim=int(manifest["embedding"]["dim"]),
        )
        self._thread = threading.Thread(
            target=self._run, args=(sources, args), name="rag-merge", daemon=True
        )
        if background:
            self._thread.start()
        else:
            self._run(sources, args)

    def _run(self, sources: list[Source], args: dict[str, Any]) -> None:
        from rag.store.integrity import describe_files

        try:
            out = self.work / "out" / self.out_name
            self.result = merge(sources, out, cancelled=self._cancel.is_set, **args)
            self.files = describe_files(out)
        except _Cancelled:
            pass
        except BaseException as e:  # reported by the writer, on its own thread
            self.error = e

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self) -> None:
        if self._thread.is_alive():
            self._thread.join()

    def folder(self) -> Path:
        return self.work / "out" / self.out_name

    def cancel(self) -> None:
        self._cancel.set()
        self.wait()
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
