"""Ingest jobs of `rag serve`: uploaded files (and URLs) ingested in the background.

`POST /v1/documents` stages the uploaded files under `<uploads>/.incoming/<job>/` and
queues a job; one worker thread runs the jobs in order (ingests take the index's write
lock anyway), each in a child process (`ingest_worker`) whose progress lines update
the job. The job moves its files into the uploads folder (the index records them as
its inputs, so `rag ingest` with no path reads them again) and ingests them. A file
with the name of an earlier upload replaces it: that document is updated. When the
ingest fails or takes none of the files, the earlier files are put back.

Jobs live in memory (the newest `KEEP` of them): a restarted server forgets them, and
the index keeps what finished.

What it does not do: HTTP, or read the files (the ingest does).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.config import Settings

log = logging.getLogger("rag.serve")
KEEP = 200
INCOMING = ".incoming"


@dataclass
class Job:
    id: str
    files: list[str]
    urls: list[str]
    staged: Path | None
    status: str = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    chunks_total: int | None = None
    chunks_done: int = 0
    notices: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        fraction = None
        if self.chunks_total is not None:
            fraction = 1.0 if not self.chunks_total else self.chunks_done / self.chunks_total
        if self.status == "succeeded":
            fraction = 1.0
        return {
            "id": self.id,
            "object": "ingest.job",
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "files": list(self.files),
            "urls": list(self.urls),
            "progress": {
                "chunks_total": self.chunks_total,
                "chunks_done": self.chunks_done,
                "fraction": None if fraction is None else round(min(1.0, fraction), 4),
            },
            "notices": list(self.notices),
            "report": self.report,
            "error": self.error,
        }


class Jobs:
    def __init__(self, settings: Settings, uploads: Path) -> None:
        self.settings = settings
        self.uploads = uploads
        self._jobs: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._proc: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._work, name="rag-serve-ingest", daemon=True)
        self._thread.start()

    # -- the API side
    def new_staging(self) -> tuple[str, Path]:
        job_id = "job_" + secrets.token_hex(8)
        folder = self.uploads / INCOMING / job_id
        folder.mkdir(parents=True, exist_ok=True)
        return job_id, folder

    def submit(self, job_id: str, files: list[str], urls: list[str], staged: Path | None) -> Job:
        job = Job(job_id, files, urls, staged)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                old_id, old = next(iter(self._jobs.items()))
                if old.status in ("queued", "running"):
                    break
                del self._jobs[old_id]
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def close(self) -> None:
        """Stop the worker; a running ingest is terminated (the index keeps what it had
        published)."""
        self._queue.put(None)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
        self._thread.join(timeout=10)

    # -- the worker side
    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except Exception as e:  # a bug here must not stop later jobs
                log.exception("ingest job %s failed", job.id)
                job.status, job.error = "failed", f"internal error: {e}"
            finally:
                job.finished_at = time.time()
                if job.staged is not None:
                    shutil.rmtree(job.staged, ignore_errors=True)

    def _run(self, job: Job) -> None:
        job.status, job.started_at = "running", time.time()
        placed, backups = self._place(job)
        ok = False
        try:
            ok = self._ingest(job, [str(p) for p in placed] + job.urls)
        finally:
            if not ok:  # put back what the upload replaced
                for target, backup in backups.items():
                    with contextlib.suppress(OSError):
                        os.replace(backup, target)
                for p in placed:
                    if p not in backups:
                        p.unlink(missing_ok=True)

    def _place(self, job: Job) -> tuple[list[Path], dict[Path, Path]]:
        """Move staged files into the uploads folder; earlier files of the same name are
        kept aside in the staging folder until the ingest succeeds."""
        placed: list[Path] = []
        backups: dict[Path, Path] = {}
        if job.staged is None:
            return placed, backups
        aside = job.staged / ".replaced"
        for name in job.files:
            target = self.uploads / name
            if target.exists():
                aside.mkdir(exist_ok=True)
                backups[target] = aside / name
                os.replace(target, backups[target])
            os.replace(job.staged / name, target)
            placed.append(target)
        return placed, backups

    def _ingest(self, job: Job, paths: list[str]) -> bool:
        request = {
            "settings": self.settings.model_dump(mode="json", exclude={"llm", "serve"}),
            "paths": paths,
        }
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.serve.ingest_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._proc = proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        errors: list[str] = []
        drain = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        drain.start()
        proc.stdin.write(json.dumps(request))
        proc.stdin.close()
        done = False
        for line in proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("event")
            if kind == "start":
                job.chunks_total, job.chunks_done = int(ev["total"]), 0
            elif kind == "advance":
                job.chunks_done += int(ev["n"])
            elif kind == "notice":
                job.notices.append(str(ev["text"]))
            elif kind == "done":
                done = True
                job.report = self._public(ev["report"])
            elif kind == "error":
                job.error = str(ev["message"])
        code = proc.wait()
        drain.join(timeout=5)
        self._proc = None
        if done and code == 0:
            return self._judge(job)
        job.status = "failed"
        if job.error is None:
            tail = "".join(errors).strip().splitlines()[-1:] or [f"exit code {code}"]
            job.error = f"the ingest stopped: {tail[0]}"
        return False

    def _public(self, report: dict[str, Any]) -> dict[str, Any]:
        """The report without the server's paths: files by name only."""
        report.pop("index", None)
        for value in report.values():  # skipped, new_skipped, warnings...
            for s in value if isinstance(value, list) else ():
                if isinstance(s, dict) and "where" in s:
                    s["where"] = str(s["where"]).replace(str(self.uploads) + os.sep, "")
        return report

    @staticmethod
    def _judge(job: Job) -> bool:
        """Succeeded when any file was taken; failed (with the reasons) when all were
        skipped."""
        r = job.report or {}
        taken = len(r.get("added", [])) + len(r.get("updated", [])) + len(r.get("unchanged", []))
        skipped = r.get("skipped", [])
        if taken == 0 and skipped:
            job.status = "failed"
            job.error = "; ".join(
                f"{Path(s['where']).name}: {s['reason']}" for s in skipped[:5]
            ) + (" …" if len(skipped) > 5 else "")
            return False
        job.status = "succeeded"
        return True
