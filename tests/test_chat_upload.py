"""What the chat does with dropped files and pasted URLs, before chainlit shows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.chat import upload
from rag.chat.render import md_escape
from rag.config import load_settings
from rag.store import open_index

from .conftest import write
from .news_files import make_pdf


def test_urls_alone_are_ingested_a_question_with_a_url_is_a_question() -> None:
    assert upload.urls_alone(" https://a.example/x  http://b.example/y?z=1\n") == [
        "https://a.example/x",
        "http://b.example/y?z=1",
    ]
    assert upload.urls_alone("what does https://a.example/x say about the port?") == []
    assert upload.urls_alone("no link here") == []


def test_limits_and_types_are_checked_with_one_line_each(tmp_path: Path) -> None:
    s = load_settings(index={"dir": tmp_path / "ix"}, chat={"upload_max_mb": 1})
    ok = write(tmp_path / "a.md", "# A\n\nText.")
    big = write(tmp_path / "big.txt", "x" * 1_200_000)
    empty = write(tmp_path / "empty.md", "")
    files = [
        upload.Upload("a.md", ok),
        upload.Upload("photo.jpg", ok),
        upload.Upload("big.txt", big),
        upload.Upload("empty.md", empty),
        upload.Upload("lost.pdf", tmp_path / "gone.pdf"),
    ]
    p = upload.plan(files, "When was it?", s)
    assert [f.name for f in p.files] == ["a.md"] and p.question == "When was it?"
    assert p.problems == [
        "photo.jpg: type .jpg is not read; drop .md .markdown .txt .html .htm .pdf files",
        "big.txt: 1.2 MB is over the 1 MB limit (chat.upload_max_mb)",
        "empty.md: the file is empty",
        "lost.pdf: the upload did not arrive; drop it again",
    ]
    s = load_settings(index={"dir": tmp_path / "ix"}, chat={"upload_max_files": 1})
    p = upload.plan([upload.Upload("a.md", ok)] * 2, "", s)
    assert not p.files and "the limit is 1 (chat.upload_max_files)" in p.problems[-1]


def test_uploads_are_ingested_with_progress_and_summed_up(tmp_path: Path, encoder: Any) -> None:
    s = load_settings(index={"dir": tmp_path / "ix"})
    pdf = make_pdf(tmp_path / "tmp" / "x1", ["The Bayview ferry resumes service on 1 June."])
    files = [upload.Upload("memo <b>.pdf", pdf), upload.Upload("notes.csv", pdf)]
    seen: list[str] = []
    text = upload.ingest(upload.plan(files, "", s), s, seen.append)
    assert seen[0].startswith("Reading memo <b>.pdf") and any("Embedding" in x for x in seen)
    assert f"**Added:** {md_escape('memo-b')}" in text, text
    assert "<b>" not in text  # names are escaped for Markdown
    assert f"**Not taken** {md_escape('notes.csv: type .csv is not read')}" in text
    assert (upload.uploads_dir(s) / "memo _b_.pdf").is_file()
    assert [r["id"] for r in open_index(tmp_path / "ix").doc_rows()] == ["memo-b"]
