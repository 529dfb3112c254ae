"""Files dropped into the chat (real Chromium, real chainlit, real core): ingested into
the chat's index with progress shown, a bad one explained, then asked about."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.chat import upload
from rag.config import load_settings
from rag.store import open_index

from .news_files import make_pdf, make_scanned_pdf
from .news_server import article_page
from .test_chat_browser import (
    TIMEOUT_MS,
    Browser,
    ChatServer,
    answers,
    expect,
    playwright_api,
    send,
    shot,
    text_of,
    wait_idle,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium (make chromium)"
    ),
]

MEMO = [
    "Budget notes for the harbour committee. " * 30,
    "The Bayview ferry contract was signed by Maria Holm, the chief executive of Nordline, "
    "in Arden on 4 May 2026. Service resumes on 1 June.",
]


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory, bundled_index: Path) -> Iterator[ChatServer]:
    base = tmp_path_factory.mktemp("chat-upload")
    index = base / "index"
    shutil.copytree(bundled_index, index)  # the chat writes into its index
    srv = ChatServer(base / "app", "upload", index, {}).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def page(chat: ChatServer) -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        b = Browser(pw)
        p = b.new_page()
        p.goto(chat.base + "/")
        expect(p.locator("#chat-input")).to_be_visible()
        try:
            yield p
        finally:
            assert not b.finished_external, b.finished_external
            b.browser.close()


def drop(page: Any, files: list[Path], text: str = "") -> Any:
    """Attach files as the paper-clip (or a drop) does, send, wait for the ingest note."""
    # an attachment needs the session: before it connects the upload fails and the send
    # button stays disabled (the settings button appears once it is connected)
    expect(page.locator("#chat-settings-open-modal")).to_be_visible()
    wait_idle(page)
    page.locator("input[type=file]").first.set_input_files([str(f) for f in files])
    for f in files:
        expect(page.get_by_text(f.name).first).to_be_visible()
    n = answers(page).count()
    send(page, text) if text else _send_files_only(page)
    expect(answers(page)).to_have_count(n + 1, timeout=TIMEOUT_MS)
    note = answers(page).nth(n)
    done = re.compile(
        r"Added|Updated|Already in the index|Skipped|Not taken|Nothing to add|Could not"
    )
    expect(note).to_contain_text(done, timeout=180_000)
    return note


def _send_files_only(page: Any) -> None:
    # the button waits for the attachments to reach the server (slow on a loaded machine)
    expect(page.locator("#chat-submit")).to_be_enabled(timeout=120_000)
    page.locator("#chat-submit").click()


def test_dropped_files_are_ingested_and_a_bad_one_explained(
    page: Any, chat: ChatServer, tmp_path: Path
) -> None:
    memo = make_pdf(tmp_path / "ferry-memo.pdf", MEMO, title="Bayview ferry memo")
    html = tmp_path / "harbour.html"
    html.write_text(
        article_page(
            "Harbour dredging starts",
            ["Dredging of the Arden harbour channel starts in July and lasts nine weeks."],
        ),
        encoding="utf-8",
    )
    scan = make_scanned_pdf(tmp_path / "scan.pdf")
    note = drop(page, [memo, html, scan])
    wait_idle(page)
    text = text_of(note)
    assert "Added:" in text and "ferry-memo" in text and "harbour" in text, text
    assert "Skipped scan.pdf: PDF with no text layer" in text and "OCR" in text, text
    shot(page, "chat-upload-1280.png")
    idx = open_index(chat.root.parent / "index")
    ids = {r["id"] for r in idx.doc_rows()}
    assert {"ferry-memo", "harbour"} <= ids
    staged = upload.uploads_dir(load_settings(index={"dir": chat.root.parent / "index"}))
    assert sorted(p.name for p in staged.iterdir()) == [
        "ferry-memo.pdf",
        "harbour.html",
        "scan.pdf",
    ]


def test_a_dropped_file_is_then_asked_about(page: Any) -> None:
    n = answers(page).count()
    send(page, "Who signed the Bayview ferry contract?")
    expect(answers(page)).to_have_count(n + 1)
    msg = answers(page).nth(n)
    expect(msg.locator(".message-content")).to_contain_text("model:")
    wait_idle(page)
    text = text_of(msg)
    assert "Maria Holm" in text and "[1]" in text, text
    assert "Bayview ferry memo" in text, text  # the Sources list names the PDF


def test_a_file_dropped_with_a_question_is_ingested_then_answered(
    page: Any, tmp_path: Path
) -> None:
    f = tmp_path / "tram.md"
    f.write_text(
        "# Tram line 4 extended\n\nThe tram line 4 extension to Bayview opens on 12 October "
        "2026 with six new stops.\n",
        encoding="utf-8",
    )
    note = drop(page, [f], "When does the tram line 4 extension open?")
    assert "Added:" in text_of(note) and "tram" in text_of(note)
    answer = answers(page).last
    expect(answer.locator(".message-content")).to_contain_text("model:")
    wait_idle(page)
    assert "12 October 2026" in text_of(answer), text_of(answer)
