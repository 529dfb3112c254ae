"""`rag serve` as a real process on 127.0.0.1 (a free port), for the serve tests.

`ServeProcess` runs `python -m rag.cli serve --port 0 --index DIR` with its own
environment, reads the address from the line the server prints, waits for /healthz
to answer, and keeps everything the server logged (`log()`), so a test can check what
reached the log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self

import httpx

ADDRESS = re.compile(r"rag serve: (http://127\.0\.0\.1:(\d+))/v1")


def serve_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_INDEX__COMMIT_EVERY_S="1000000",
        HF_HUB_OFFLINE="1",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        TOKENIZERS_PARALLELISM="false",
    )
    env.update(extra)
    return env


class ServeProcess:
    def __init__(
        self,
        index: Path,
        logs: Path,
        *args: str,
        env: dict[str, str] | None = None,
        keys_file: Path | None = None,
    ) -> None:
        self.index, self.logfile = index, logs
        keys = keys_file or logs.with_suffix(".keys.toml")
        self.env = serve_env(RAG_SERVE__KEYS_FILE=str(keys), **(env or {}))
        self.args = ["--port", "0", "--index", str(index), *args]
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def start(self, timeout: float = 180.0) -> Self:
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        out = self.logfile.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", *self.args],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        end = time.monotonic() + timeout
        while not self.base_url:
            m = ADDRESS.search(self.log())
            if m:
                self.base_url = m.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"rag serve exited {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > end:
                raise TimeoutError(f"rag serve printed no address:\n{self.log()}")
            time.sleep(0.1)
        while True:  # the socket is bound before the app has started: wait for it
            try:
                r = httpx.get(self.url("/healthz"), timeout=5)
                if r.status_code in (200, 503):
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"rag serve did not come up:\n{self.log()}")
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"

    def log(self) -> str:
        try:
            return self.logfile.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_job(client: httpx.Client, job: dict[str, Any], timeout: float = 240.0) -> dict[str, Any]:
    """Poll an ingest job until it ends; returns its last state."""
    end = time.monotonic() + timeout
    while True:
        r = client.get(f"/v1/jobs/{job['id']}")
        r.raise_for_status()
        job = r.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        if time.monotonic() > end:
            raise TimeoutError(f"job {job['id']} still {job['status']}: {job}")
        time.sleep(0.2)
