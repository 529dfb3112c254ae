"""`rag serve` (a real process on 127.0.0.1) over a damaged index and a full disk: it
answers with one-line errors in OpenAI's shape and keeps serving, never crashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from .serve_helpers import ServeProcess, wait_job
from .test_damage import DEMO, damage
from .test_disk_full import _news, _remount, small_disk  # noqa: F401  (a fixture)
from .test_serve_rest import error_of


def test_a_damaged_index_is_503_naming_the_file_until_repaired(
    tmp_path: Path, bundled_index: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(bundled_index, index)
    rel = damage(index, "sqlite", "truncate")
    with (
        ServeProcess(index, tmp_path / "serve.log") as s,
        httpx.Client(base_url=s.base_url, timeout=120) as http,
    ):
        r = http.post("/v1/ask", json={"question": DEMO})
        assert r.status_code == 503, r.text
        err = error_of(r)
        assert err["code"] == "index_unreadable"
        assert rel in str(err["message"]) and "rag index repair" in str(err["message"])
        assert http.get("/healthz").status_code == 503
        assert s.alive() and "Traceback" not in s.log()


def test_a_full_disk_fails_the_upload_job_and_the_server_keeps_answering(
    small_disk: Path,  # noqa: F811
    tmp_path: Path,
    bundled_index: Path,
) -> None:
    index = small_disk / "index"
    shutil.copytree(bundled_index, index)
    with (
        ServeProcess(index, tmp_path / "serve.log") as s,
        httpx.Client(base_url=s.base_url, timeout=120) as http,
    ):
        news = _news(tmp_path / "news")
        files = [("files", (p.name, p.read_bytes())) for p in sorted(news.iterdir())]
        job = wait_job(http, http.post("/v1/documents", files=files).json())
        assert job["status"] == "failed", job
        assert "disk full" in job["error"] and "untouched" in job["error"], job
        a = http.post("/v1/ask", json={"question": DEMO})  # the old generation answers
        assert a.status_code == 200 and a.json()["citations"], a.text
        # an upload that does not even fit while staged: 507, one line, nothing stored
        _remount(small_disk, "size=" + str(_used_kb(small_disk) + 16) + "k")
        big = ("files", ("big.md", ("# Big\n\n" + "word " * 60_000).encode()))
        r = http.post("/v1/documents", files=[big])
        assert r.status_code == 507, r.text
        assert error_of(r)["code"] == "index_write_failed"
        assert http.post("/v1/ask", json={"question": DEMO}).status_code == 200
        assert s.alive() and "Traceback" not in s.log()


def _used_kb(mount: Path) -> int:
    st = shutil.disk_usage(mount)
    return st.used // 1024
