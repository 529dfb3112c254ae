"""The browser chat (app.py) in real headless Chromium, against the real core.

Each server is `chainlit run app.py --headless --host 127.0.0.1 --port N`, started from a
temporary copy of the committed app files (chainlit writes .files/, translations and the
generated [n].jsx next to the app, and removes .files/ on shutdown, so two servers must
not share a folder), with RAG_INDEX__DIR pointing at an index built by a fixture.
Chromium is Debian's /usr/bin/chromium driven by Playwright; every request to a host
other than 127.0.0.1 is aborted and counted. Screenshots and the timing figures go to
tests/artifacts/ (git-ignored). The tests of one server run in file order and share a
page, like one person using the chat.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from rag import api
from rag.chat import render, users
from rag.chat.welcome import starter_questions
from rag.config import load_settings
from rag.resources import articles_dir

from .conftest import ROOT
from .openai_server import FakeOpenAIServer, RecordedRequest, Reply

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium (make chromium)"
    ),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
DEMO = "Why did Russia lift the ban on the Taliban?"
FOLLOW_UP = "and what do critics say?"
WJ = "\u2060"
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


# --------------------------------------------------------------------------- servers


def _app_files() -> list[Path]:
    """What a checkout holds of the app (everything else is made at run time)."""
    files = [ROOT / "app.py", ROOT / "chainlit.md", ROOT / ".chainlit" / "config.toml"]
    files += [p for p in (ROOT / "public").rglob("*") if p.is_file() and not p.name.startswith("[")]
    return files


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChatServer:
    """`chainlit run app.py` in its own copy of the app, on a free 127.0.0.1 port."""

    def __init__(self, root: Path, name: str, index: Path, env: dict[str, str]) -> None:
        self.root, self.name = root, name
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db = root / ".chat" / "chat.sqlite3"
        self.log_path = root.parent / f"server-{name}.log"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RAG_", "CHAINLIT_", "LITERAL_")) and k != "DATABASE_URL"
        }
        self.env.update(
            RAG_INDEX__DIR=str(index),
            PYTHONUNBUFFERED="1",
            NO_PROXY="127.0.0.1,localhost",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            **env,
        )
        for f in _app_files():
            target = root / f.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> ChatServer:
        chainlit = Path(sys.executable).parent / "chainlit"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        cmd = [str(chainlit), "run", "app.py", "--headless"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chainlit exited early:\n{self.log()[-5000:]}")
            try:
                with urllib.request.urlopen(self.base + "/auth/config", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"chainlit did not come up:\n{self.log()[-5000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # our own child, by its pid
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"server-{self.name}.log").write_text(self.log())

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        con = sqlite3.connect(self.db, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(query, params).fetchall()]
        finally:
            con.close()


def _serve(
    factory: pytest.TempPathFactory, name: str, index: Path, **env: str
) -> Iterator[ChatServer]:
    root = factory.mktemp(f"chat-{name}") / "app"
    srv = ChatServer(root, name, index, env).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, bundled_index: Path, llm_server: FakeOpenAIServer
) -> Iterator[ChatServer]:
    """The default setup: no users file, so the one local user has a history."""
    yield from _serve(
        tmp_path_factory,
        "main",
        bundled_index,
        RAG_LLM__API_BASE=llm_server.base_url,
        RAG_LLM__API_KEY="sk-test-chat-1234",
        RAG_LLM__MAX_RETRIES="0",
        RAG_LLM__TIMEOUT_S="30",
    )


HOSTILE_ARTICLE = """\
---
title: "<img src=x onerror=alert(1)> Outage [report](https://evil.example/t)"
source: "<script>alert('src')</script> Daily"
url: "javascript:alert(1)"
published_at: "2025-04-18"
---

A power outage hit the northern district on Monday <script>alert(1)</script> and left \
thousands without electricity.

Engineers restored service within two hours <img src=x onerror=alert(1)>, according to \
[the full report](https://evil.example/phish) and https://evil.example/raw \
![pixel](https://evil.example/p.png).

The utility apologised to customers and promised an inquiry into the cause of the outage.
"""

BRIDGE_ARTICLE = """\
---
title: "New bridge opens over the Elbe"
source: "Harbour Herald"
url: "https://news.example.org/bridge"
published_at: "2025-04-17T09:30:00Z"
---

The new bridge over the Elbe opened to traffic on Thursday after four years of work.

It carries two tram lines and a cycle path, and it cost 210 million euros.
"""
HOSTILE_Q = "How quickly did engineers restore service after the outage?"
BRIDGE_Q = "When did the new bridge over the Elbe open?"


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> Path:
    """A private index of a hostile article and a benign one with source, date and url."""
    base = tmp_path_factory.mktemp("hostile")
    (base / "articles").mkdir()
    (base / "articles" / "outage.md").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    (base / "articles" / "bridge.md").write_text(BRIDGE_ARTICLE, encoding="utf-8")
    index = base / "index"
    api.ingest([base / "articles"], load_settings(index={"dir": index}), encoder=encoder)
    return index


@pytest.fixture(scope="module")
def hostile_server(
    tmp_path_factory: pytest.TempPathFactory, hostile_index: Path
) -> Iterator[ChatServer]:
    yield from _serve(tmp_path_factory, "hostile", hostile_index)


@pytest.fixture(scope="module")
def login_server(
    tmp_path_factory: pytest.TempPathFactory, bundled_index: Path
) -> Iterator[ChatServer]:
    users_file = tmp_path_factory.mktemp("users") / "users.toml"
    users.add_user(users_file, "alice", "wonderland-42")
    yield from _serve(
        tmp_path_factory,
        "login",
        bundled_index,
        RAG_CHAT__USERS_FILE=str(users_file),
        CHAINLIT_AUTH_SECRET=secrets.token_urlsafe(48),
    )


# --------------------------------------------------------------------------- the core's view


@pytest.fixture(scope="module")
def core(bundled_index: Path) -> api.Pipeline:
    """The same core the server runs, to compare what the browser shows with."""
    return api.Pipeline(load_settings(index={"dir": bundled_index}))


# --------------------------------------------------------------------------- browser


class Browser:
    """Chromium with every request to a host other than 127.0.0.1 aborted and counted."""

    def __init__(self, pw: Any) -> None:
        self.browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.finished_external: list[str] = []
        self.dialogs: list[str] = []
        self.page_errors: list[str] = []

    def new_page(self) -> Any:
        ctx = self.browser.new_context(viewport={"width": 1280, "height": 800})
        ctx.set_default_timeout(TIMEOUT_MS)

        def guard(route: Any) -> None:
            url = route.request.url
            if url.startswith(("data:", "blob:")) or urlparse(url).hostname == "127.0.0.1":
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        ctx.route("**/*", guard)
        page = ctx.new_page()
        page.on("request", lambda r: self.requests.append(r.url))
        page.on(
            "requestfinished",
            lambda r: (
                self.finished_external.append(r.url)
                if urlparse(r.url).hostname not in ("127.0.0.1", None)
                and not r.url.startswith(("data:", "blob:"))
                else None
            ),
        )
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

        def on_dialog(d: Any) -> None:
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", on_dialog)
        return page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # a test file run alone writes there too
    with playwright_api.sync_playwright() as pw:
        b = Browser(pw)
        try:
            yield b
        finally:
            b.browser.close()


@pytest.fixture(scope="module")
def page(browser: Browser, server: ChatServer) -> Iterator[Any]:
    p = browser.new_page()
    yield p
    p.context.close()


def shot(target: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(ARTIFACTS / name))


def text_of(locator: Any) -> str:
    """Visible text, whitespace-normalised, without the invisible word joiners."""
    return " ".join(locator.inner_text().replace(WJ, "").split())


def norm(s: str) -> str:
    return " ".join(s.split())


def answers(page: Any) -> Any:
    return page.locator('[data-step-type="assistant_message"]')


def send(page: Any, text: str) -> None:
    # The composer shows before the session is connected, and a message typed then can
    # be lost: wait for the settings button (sent by on_chat_start / on_chat_resume),
    # then for the send button, and check that the question was taken.
    expect(page.locator("#chat-settings-open-modal")).to_be_visible()
    questions = page.locator('[data-step-type="user_message"]')
    n = questions.count()
    for attempt in (1, 2):
        page.locator("#chat-input").fill(text)
        expect(page.locator("#chat-submit")).to_be_enabled()
        page.locator("#chat-input").press("Enter")
        try:
            expect(questions).to_have_count(n + 1, timeout=8_000 if attempt == 1 else TIMEOUT_MS)
            return
        except AssertionError:
            # a last resort: the first answer of a chat moves the page to /thread/<id>,
            # which mounts a new composer (public/chat.js keeps the draft; Enter pressed
            # while the old one is removed can still be lost)
            if attempt == 2:
                raise


def ask(page: Any, text: str) -> Any:
    """Send a question and wait for the finished answer (its footer says "model:")."""
    n = answers(page).count()
    send(page, text)
    expect(answers(page)).to_have_count(n + 1)
    msg = answers(page).nth(n)
    expect(msg.locator(".message-content")).to_contain_text("model:")
    wait_idle(page)
    return msg


def wait_idle(page: Any) -> None:
    """The answer's footer shows a moment before chainlit ends the task; text typed into
    the composer in between can leave its send button disabled, so wait for the end
    (the stop button goes away)."""
    expect(page.locator("#stop-button")).to_have_count(0)


def new_chat(page: Any, base: str) -> None:
    page.goto(base + "/")
    expect(page.locator("#chat-input")).to_be_visible()
    expect(page.locator("#starters button").first).to_be_visible()


def set_model(page: Any, model: str) -> None:
    page.locator("#chat-settings-open-modal").click()
    dialog = page.locator("#chat-settings")
    expect(dialog).to_be_visible()
    dialog.locator("#model").fill(model)
    page.locator("#confirm").click()
    expect(dialog).to_be_hidden()


def panel_settled(page: Any) -> None:
    """The side panel slides in (CSS transform); wait until it stops moving."""
    page.wait_for_function(
        """() => new Promise(res => {
            const el = document.querySelector('#side-view-title');
            if (!el) return res(false);
            const x = el.getBoundingClientRect().left;
            setTimeout(() => res(el.getBoundingClientRect().left === x
                                 && el.getBoundingClientRect().right <= window.innerWidth), 200);
        })"""
    )


def close_panel(page: Any) -> None:
    page.locator("#side-view-title button").click()
    expect(page.locator("#side-view-content")).to_have_count(0)


def no_data_layer_errors(srv: ChatServer) -> None:
    bad = [
        line
        for line in srv.log().splitlines()
        if any(
            p in line
            for p in ("An error occurred", "OperationalError", "ProgrammingError", "not persisted")
        )
    ]
    assert not bad, "data layer errors in the server log:\n" + "\n".join(bad)


# --------------------------------------------------------------------------- the default chat


def test_welcome_line_and_starters(page: Any, server: ChatServer, core: api.Pipeline) -> None:
    new_chat(page, server.base)
    info = core.describe()
    welcome = page.locator("#welcome-screen")
    expect(welcome).to_contain_text(f"{info['documents']} articles ({info['chunks']} passages)")
    expect(welcome).to_contain_text("publication dates are not given")
    # example questions about the loaded articles (undated: in index order)
    rows = core.index().doc_rows()
    expect(page.locator("#starters button")).to_have_text(
        [q["label"] for q in starter_questions(rows)]
    )
    expect(page.locator("#starters button").first).to_contain_text(rows[0]["title"][:40])
    expect(page.locator(".watermark")).to_be_hidden()  # our CSS is loaded
    shot(page, "chat_welcome.png")


def test_demo_question_streams_and_cites(page: Any, server: ChatServer, core: api.Pipeline) -> None:
    expected = core.ask(DEMO)
    assert expected.citations and not expected.abstained
    page.evaluate(
        """() => {
          window.__states = [];
          new MutationObserver(() => {
            const m = document.querySelector(
              '[data-step-type="assistant_message"] .message-content');
            if (m) window.__states.push(m.innerText);
          }).observe(document.body, {childList: true, subtree: true, characterData: true});
        }"""
    )
    send(page, DEMO)
    expect(answers(page)).to_have_count(1)
    msg = answers(page).first
    content = msg.locator(".message-content")
    expect(content).to_contain_text("model:")
    states = page.evaluate("() => window.__states")
    assert any(s.strip() and "model:" not in s for s in states), "no streamed state"

    # what the core answers, with every marker clickable
    shown = text_of(content)
    assert norm(expected.text) in shown
    _, _, sources = shown.partition("Sources")
    refs = content.locator("a.element-link")
    in_text = [f"[{n}]" for n in re.findall(r"\[(\d+)\]", expected.text)]
    listed = [f"[{n}]" for n in render.cited_numbers(expected.text)]
    expect(refs).to_have_text(in_text + listed)
    # only what was cited is listed
    for c in expected.citations:
        assert c.hit.doc.title in sources
    for h in expected.hits:
        if h.doc.title not in {c.hit.doc.title for c in expected.citations}:
            assert h.doc.title not in sources
    # two passages of one article are told apart by their first words
    lines = [x for x in content.locator("li").all_inner_texts() if x.strip()]
    by_title: dict[str, list[str]] = {}
    for c in render.cited(expected):
        line = next(x for x in lines if x.replace(WJ, "").startswith(f"[{c.n}]"))
        by_title.setdefault(c.hit.doc.title, []).append(line)
    repeated = [v for v in by_title.values() if len(v) > 1]
    assert repeated, "the demo answer cites one article twice"
    for same in repeated:
        assert len(set(same)) == len(same), same  # the hint differs
        assert all(x.rstrip().endswith("”") for x in same), same  # “first words…”
    # the panel does not open by itself (public/chat.js)
    page.wait_for_timeout(800)
    expect(page.locator("#side-view-content")).to_have_count(0)
    shot(msg, "chat_answer.png")

    # [1] opens the cited passage of the right article, the cited sentence highlighted
    c1 = next(c for c in expected.citations if c.n == 1)
    refs.first.click()
    panel = page.locator("#side-view-content")
    expect(page.locator("#side-view-title")).to_contain_text("[1]")
    expect(panel.get_by_test_id("citation-title")).to_have_text(c1.hit.doc.title)
    expect(panel.get_by_test_id("citation-nolink")).to_be_visible()  # bundled: no url
    assert norm(panel.get_by_test_id("citation-passage").inner_text()) == norm(c1.hit.chunk.text)
    ch = c1.hit.chunk
    quoted = [norm(ch.text[s - ch.start : e - ch.start]) for s, e in c1.quotes]
    marks = panel.get_by_test_id("citation-highlight")
    expect(marks).to_have_count(len(quoted))
    assert [norm(t) for t in marks.all_inner_texts()] == quoted
    bg = marks.first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert bg not in ("rgba(0, 0, 0, 0)", "transparent")
    panel_settled(page)
    shot(page, "chat_citation_panel.png")
    # the README picture (docs/chat.png is a copy): answer and panel, no sidebar
    page.screenshot(
        path=str(ARTIFACTS / "chat_readme.png"),
        clip={"x": 256, "y": 0, "width": 1024, "height": 560},
    )
    close_panel(page)


def test_follow_up_searches_with_the_conversation(
    page: Any, server: ChatServer, core: api.Pipeline
) -> None:
    first = core.ask(DEMO)
    history = [{"role": "user", "content": DEMO}, {"role": "assistant", "content": first.text}]
    expected = core.ask(FOLLOW_UP, history=history)
    assert expected.search_query and DEMO in expected.search_query

    msg = ask(page, FOLLOW_UP)
    shown = text_of(msg.locator(".message-content"))
    assert f"searched for: {expected.search_query}" in shown
    assert norm(expected.text) in shown
    # its [1] is its own citation, not the first answer's
    c1 = next(c for c in expected.citations if c.n == 1)
    msg.locator("a.element-link").first.click()
    expect(page.locator("#side-view-content").get_by_test_id("citation-title")).to_have_text(
        c1.hit.doc.title
    )
    close_panel(page)


def test_history_after_reload_resume_and_feedback(page: Any, server: ChatServer) -> None:
    threads = server.sql('SELECT id, name, "userIdentifier" FROM threads')
    assert len(threads) == 1, threads
    thread = threads[0]
    assert thread["name"] == DEMO and thread["userIdentifier"] == users.LOCAL_USER
    assert server.sql('SELECT count(*) AS n FROM elements WHERE "threadId"=?', (thread["id"],))

    # a reload of the app: the conversation is in the sidebar
    page.goto(server.base + "/")
    history = page.locator("#thread-history")
    try:
        history.wait_for(state="visible", timeout=10_000)
    except playwright_api.Error:
        page.locator("#sidebar-trigger-button").click()  # the sidebar may start closed
    entry = page.locator(f"#thread-{thread['id']}")
    expect(entry).to_contain_text(DEMO[:20])
    shot(page, "chat_history.png")

    entry.locator("a").first.click()
    expect(page).to_have_url(re.compile(f"/thread/{thread['id']}"))
    expect(answers(page)).to_have_count(2)
    msg = answers(page).first
    expect(msg.locator(".message-content")).to_contain_text("model:")
    page.wait_for_timeout(800)
    expect(page.locator("#side-view-content")).to_have_count(0)  # resume opens no panel
    # the citations came back from the database (props parsed again)
    msg.locator("a.element-link").first.click()
    expect(
        page.locator("#side-view-content").get_by_test_id("citation-highlight").first
    ).not_to_be_empty()
    close_panel(page)

    # thumbs up with a comment → a row in feedbacks, for the run step of this answer
    msg.hover()
    msg.locator(".positive-feedback-off").click()
    page.get_by_role("dialog").locator("textarea").fill("Exactly the passage I needed")
    page.locator("#submit-feedback").click()
    expect(msg.locator(".positive-feedback-on")).to_be_visible()
    msg_id = msg.locator('[id^="step-"]').first.get_attribute("id").removeprefix("step-")
    run_id = server.sql('SELECT "parentId" FROM steps WHERE id=?', (msg_id,))[0]["parentId"]
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while not rows and time.monotonic() < deadline:
        rows = server.sql('SELECT * FROM feedbacks WHERE "forId"=?', (run_id,))
        time.sleep(0.2)
    assert rows, "no feedback row"
    assert rows[0]["value"] == 1 and rows[0]["comment"] == "Exactly the passage I needed"
    assert rows[0]["threadId"] == thread["id"]
    (ARTIFACTS / "chat_feedback_row.json").write_text(json.dumps(rows, indent=2))

    # the resumed conversation still feeds follow-ups (history rebuilt from the database)
    follow = ask(page, "what about the energy exports?")
    assert f"{FOLLOW_UP})" in text_of(follow.locator(".message-content"))  # in the context
    no_data_layer_errors(server)


def test_abstention_is_shown_as_such(page: Any, server: ChatServer) -> None:
    new_chat(page, server.base)
    msg = ask(page, "Who won the 1998 chess olympiad?")
    content = msg.locator(".message-content")
    expect(content).to_contain_text("The indexed articles don't say")
    shown = text_of(content)
    assert shown.count("articles don't say") == 1  # said once, not twice
    assert "No passage in the articles answers this" not in shown
    expect(content).not_to_contain_text("Sources")
    expect(content.locator("a.element-link")).to_have_count(0)


def test_llm_error_is_readable_and_the_chat_goes_on(
    page: Any, server: ChatServer, llm_server: FakeOpenAIServer
) -> None:
    llm_server.responder = lambda req: Reply.server_error("upstream exploded")
    new_chat(page, server.base)
    set_model(page, "openai/test-model")
    send(page, DEMO)
    err = answers(page).first
    expect(err).to_contain_text("Sorry, I couldn't answer that.")
    expect(err).to_contain_text("openai/test-model")
    text = err.inner_text()
    assert "Traceback" not in text and 'File "' not in text and "sk-test-chat" not in text
    shot(err, "chat_llm_error.png")

    def answer(req: RecordedRequest) -> Reply:
        if "Passages:" in json.dumps(req.messages):  # the answer prompt
            return Reply(
                text=LLM_ANSWER + " The ban was lifted at a summit in Paris [1].",
                chunk_size=3,
                chunk_delay=0.02,
            )
        return Reply(text=DEMO)  # a condensed question, if asked for one

    llm_server.responder = answer
    page.evaluate(
        """() => {
          window.__llm = [];
          new MutationObserver(() => {
            const all = document.querySelectorAll(
              '[data-step-type="assistant_message"] .message-content');
            if (all.length > 1) window.__llm.push(all[all.length - 1].innerText);
          }).observe(document.body, {childList: true, subtree: true, characterData: true});
        }"""
    )
    msg = ask(page, DEMO)
    content = msg.locator(".message-content")
    expect(content).to_contain_text(LLM_ANSWER.removesuffix(" [1]."))
    expect(content).to_contain_text("model: openai/test-model")
    # the check (issue 12): the made-up sentence is kept, styled, with a tooltip
    flagged = content.locator('a[href="#unsupported"]')
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text("The ban was lifted at a summit in Paris")
    assert "No passage shown supports" in (flagged.get_attribute("title") or "")
    url = page.url
    flagged.click()
    assert page.url == url and len(page.context.pages) == 1  # it opens nothing
    partial = {s for s in page.evaluate("() => window.__llm") if s.strip() and "model:" not in s}
    assert len(partial) >= 3, f"the LLM answer was not streamed: {len(partial)} states"
    content.locator("a.element-link").first.click()
    titles = {load_title(p) for p in articles_dir().glob("*.md")}
    panel_title = page.locator("#side-view-content").get_by_test_id("citation-title")
    expect(panel_title).to_have_count(1)
    assert panel_title.inner_text() in titles
    close_panel(page)
    assert "question failed: model openai/test-model" in server.log()
    assert "Traceback" not in server.log()
    assert "sk-test-chat-1234" not in server.log()  # the key reached the LLM, not the log
    assert any(r.api_key == "sk-test-chat-1234" for r in llm_server.chat_requests)


# words of the articles, so the support check (rag/check.py) keeps its citation
LLM_ANSWER = (
    "Moscow's recalibrated stance is driven by growing security concerns posed by "
    "Islamist militants [1]."
)


def load_title(path: Path) -> str:
    m = re.search(r'^title: "(.*)"$', path.read_text(encoding="utf-8"), re.M)
    assert m
    return m.group(1)


def test_time_to_first_token_and_answer(page: Any, server: ChatServer) -> None:
    """Measured in the browser (not asserted): Enter → first text / finished answer."""
    new_chat(page, server.base)
    ask(page, "When did Russia ban the Taliban?")  # warm the session
    # the first answer moves the page to /thread/<id> (a new composer): wait for it, so
    # that no measured Enter goes to a composer being replaced
    expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]{36}$"))
    timing_js = """() => {
      const ids = new Set([...document.querySelectorAll(
        '[data-step-type="assistant_message"] [id^="step-"]')].map(e => e.id));
      const T = window.__t = {t0: null, first: null, done: null};
      const obs = new MutationObserver(() => {
        if (T.t0 === null) return;
        const fresh = [...document.querySelectorAll('[data-step-type="assistant_message"]')]
          .filter(m => { const s = m.querySelector('[id^="step-"]'); return s && !ids.has(s.id); });
        if (!fresh.length) return;
        const c = fresh[fresh.length - 1].querySelector('.message-content');
        const txt = c ? c.innerText.trim() : '';
        const now = performance.now();
        if (T.first === null && txt.length > 0) T.first = now;
        if (T.done === null && txt.includes('model:')) { T.done = now; obs.disconnect(); }
      });
      obs.observe(document.body, {childList: true, subtree: true, characterData: true});
      window.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && T.t0 === null && e.target && e.target.id === 'chat-input')
          T.t0 = performance.now();
      }, {capture: true});
    }"""
    runs = []
    for _ in range(5):
        wait_idle(page)
        page.locator("#chat-input").fill(DEMO)
        expect(page.locator("#chat-submit")).to_be_enabled()
        page.evaluate(timing_js)
        n = answers(page).count()
        page.locator("#chat-input").press("Enter")
        expect(answers(page)).to_have_count(n + 1)
        page.wait_for_function("() => window.__t && window.__t.done !== null")
        t = page.evaluate("() => window.__t")
        runs.append({"first_token_ms": t["first"] - t["t0"], "done_ms": t["done"] - t["t0"]})
    result = {
        "answerer": "offline",
        "question": DEMO,
        "runs": runs,
        "median_first_token_ms": round(statistics.median(r["first_token_ms"] for r in runs)),
        "median_done_ms": round(statistics.median(r["done_ms"] for r in runs)),
        "load_average": os.getloadavg(),
    }
    (ARTIFACTS / "chat_timing.json").write_text(json.dumps(result, indent=2))
    print(
        f"\nchat timing (offline, median of {len(runs)}): first token "
        f"{result['median_first_token_ms']} ms, finished answer {result['median_done_ms']} ms"
    )
    assert all(r["first_token_ms"] <= r["done_ms"] for r in runs)


# --------------------------------------------------------------------------- hostile article


def test_hostile_article_stays_inert(browser: Browser, hostile_server: ChatServer) -> None:
    page = browser.new_page()
    try:
        new_chat(page, hostile_server.base)
        # the dialog listener works: a real alert is seen
        page.evaluate("() => alert('control')")
        assert browser.dialogs == ["alert: control"]
        browser.dialogs.clear()

        msg = ask(page, HOSTILE_Q)
        content = msg.locator(".message-content")
        shown = content.inner_text().replace(WJ, "")
        assert "<img src=x onerror=alert(1)>" in shown  # literally, in the answer
        assert "[the full report](https://evil.example/phish)" in shown
        assert "![pixel](https://evil.example/p.png)" in shown
        assert "<img src=x onerror=alert(1)> Outage [report](https://evil.example/t)" in shown

        content.locator("a.element-link").first.click()
        panel = page.locator("#side-view-content")
        expect(panel.get_by_test_id("citation-title")).to_have_text(
            "<img src=x onerror=alert(1)> Outage [report](https://evil.example/t)"
        )
        expect(panel.get_by_test_id("citation-source")).to_have_text(
            "<script>alert('src')</script> Daily"
        )
        passage = panel.get_by_test_id("citation-passage")
        expect(passage).to_contain_text("<script>alert(1)</script>")
        expect(passage).to_contain_text("[the full report](https://evil.example/phish)")
        highlights = panel.get_by_test_id("citation-highlight")  # the answer may quote two
        expect(
            highlights.filter(has_text="Engineers restored service within two hours")
        ).to_have_count(1)
        expect(panel.get_by_test_id("citation-nolink")).to_be_visible()  # javascript: dropped
        assert panel.locator("script, img, a, iframe").count() == 0
        panel_settled(page)
        shot(page, "chat_hostile_panel.png")

        page.wait_for_timeout(500)
        assert page.locator("img[onerror]").count() == 0
        assert page.locator('img[src="x"]').count() == 0
        assert page.locator('a[href*="evil.example"]').count() == 0
        assert page.locator('a[href^="javascript:"]').count() == 0
        assert browser.dialogs == []
        assert not [u for u in browser.requests if "evil.example" in u]
    finally:
        page.context.close()


def test_article_source_date_and_link(browser: Browser, hostile_server: ChatServer) -> None:
    page = browser.new_page()
    try:
        new_chat(page, hostile_server.base)
        expect(page.locator("#welcome-screen")).to_contain_text(
            "published 17 Apr 2025 – 18 Apr 2025"
        )
        msg = ask(page, BRIDGE_Q)
        content = msg.locator(".message-content")
        expect(content).to_contain_text("opened to traffic on Thursday")
        expect(content).to_contain_text(
            "New bridge opens over the Elbe — Harbour Herald · 17 Apr 2025"
        )
        content.locator("a.element-link").first.click()
        panel = page.locator("#side-view-content")
        expect(panel.get_by_test_id("citation-source")).to_have_text("Harbour Herald")
        expect(panel.get_by_test_id("citation-date")).to_have_text("17 Apr 2025")
        link = panel.get_by_test_id("citation-link")
        expect(link).to_have_attribute("href", "https://news.example.org/bridge")
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(panel.get_by_test_id("citation-highlight")).to_contain_text("opened to traffic")
    finally:
        page.context.close()


# --------------------------------------------------------------------------- password login


def test_password_login(browser: Browser, login_server: ChatServer) -> None:
    page = browser.new_page()
    try:
        page.goto(login_server.base + "/")
        page.locator("#email").fill("alice")
        page.locator("#password").fill("not-her-password")
        login_button = page.get_by_role("button", name=re.compile("continue|sign in|log ?in", re.I))
        login_button.click()
        page.wait_for_timeout(1000)
        expect(page.locator("#chat-input")).to_have_count(0)
        page.locator("#password").fill("wonderland-42")
        login_button.click()
        expect(page.locator("#chat-input")).to_be_visible()
        page.locator("#starters button").first.click()
        expect(answers(page).first.locator(".message-content")).to_contain_text("model:")
        deadline = time.monotonic() + 15
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not rows:
            rows = login_server.sql('SELECT "userIdentifier" FROM threads WHERE name IS NOT NULL')
            time.sleep(0.2)
        assert rows == [{"userIdentifier": "alice"}]
        no_data_layer_errors(login_server)
    finally:
        page.context.close()


# --------------------------------------------------------------------------- ingest meanwhile


@pytest.fixture(scope="module")
def editions(
    tmp_path_factory: pytest.TempPathFactory, encoder: Any
) -> tuple[Path, dict[str, Path]]:
    """test_concurrency's two-edition corpus, indexed in its first edition."""
    from .test_concurrency import EDITIONS, edition_corpus

    base = tmp_path_factory.mktemp("editions")
    folders = {e: edition_corpus(base / "corpus", e) for e in EDITIONS}
    index = base / "index"
    api.ingest([folders["amber"]], load_settings(index={"dir": index}), encoder=encoder)
    return index, folders


@pytest.fixture(scope="module")
def editions_server(
    tmp_path_factory: pytest.TempPathFactory, editions: tuple[Path, dict[str, Path]]
) -> Iterator[ChatServer]:
    yield from _serve(tmp_path_factory, "editions", editions[0])


def test_answers_while_an_ingest_publishes(
    browser: Browser, editions_server: ChatServer, editions: tuple[Path, dict[str, Path]]
) -> None:
    """Ingests alternate the corpus between two editions while the chat answers: every
    answer is whole and from one edition, and the chat sees the new ones."""
    import threading

    from .test_concurrency import EDITIONS, QUESTIONS, cli_env, editions_in, rag_cmd

    index, folders = editions
    stop, failures, published = threading.Event(), [], []

    def ingest_loop() -> None:
        order = ["cobalt", "amber"]
        i = 0
        while not stop.is_set():
            p = subprocess.run(
                rag_cmd("ingest", str(folders[order[i % 2]]), "-q"),
                env=cli_env(index),
                capture_output=True,
                text=True,
            )
            if p.returncode != 0:
                failures.append(p.stderr)
            published.append(order[i % 2])
            i += 1

    page = browser.new_page()
    writer = threading.Thread(target=ingest_loop)
    seen: set[str] = set()
    try:
        new_chat(page, editions_server.base)
        writer.start()
        n = 0
        while (n < 8 or len(seen) < 2 or len(published) < 3) and n < 60:
            msg = ask(page, QUESTIONS[n % len(QUESTIONS)])
            if n == 0:  # the first answer moves the page to /thread/<id> (a new composer)
                expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]{36}$"))
            text = text_of(msg.locator(".message-content"))
            assert "Sorry" not in text and "Traceback" not in text, text
            found = editions_in([text])
            assert len(found) == 1, f"an answer mixes editions {sorted(found)}: {text}"
            msg.locator("a.element-link").first.click()  # the cited passage, whole
            panel = page.locator("#side-view-content")
            expect(panel.get_by_test_id("citation-highlight")).to_contain_text("edition")
            passage = text_of(panel)
            assert editions_in([passage]) == found, f"the panel shows another edition: {passage}"
            close_panel(page)
            seen |= found
            n += 1
    finally:
        stop.set()
        writer.join(timeout=300)
        page.context.close()
    assert not failures, failures[0]
    assert seen == set(EDITIONS), f"the chat never saw a new edition in {n} answers"
    assert len(published) >= 3
    assert "Traceback" not in editions_server.log()
    print(f"\nchat under ingest: {n} answers while {len(published)} ingests published, none mixed")


# --------------------------------------------------------------------------- the network


def test_nothing_left_127_0_0_1(browser: Browser) -> None:
    """Runs last: every request to another host was blocked and counted, none got through."""
    external = [
        u
        for u in browser.requests
        if urlparse(u).hostname not in ("127.0.0.1", None) and not u.startswith(("data:", "blob:"))
    ]
    hosts = sorted({urlparse(u).hostname or "" for u in browser.blocked})
    print(f"\nblocked {len(browser.blocked)} requests to other hosts: {hosts}")
    (ARTIFACTS / "chat_blocked_requests.json").write_text(
        json.dumps({"count": len(browser.blocked), "hosts": hosts}, indent=2)
    )
    assert sorted(external) == sorted(browser.blocked)
    assert browser.finished_external == []
    assert browser.page_errors == [], browser.page_errors
