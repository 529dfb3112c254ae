"""What a first-time user of the chat trips over (issue 13), in real headless Chromium.

Servers are test_chat_browser's `chainlit run app.py` on free 127.0.0.1 ports, over a
non-default index (two dated articles, one of them hostile) and an empty one; every
request to another host is blocked. Screenshots at 1280 and 390 px go to tests/artifacts/.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag import api
from rag.chat.welcome import starter_questions
from rag.config import load_settings

from .openai_server import FakeOpenAIServer
from .test_chat_browser import (
    ARTIFACTS,
    BRIDGE_Q,
    HOSTILE_Q,
    TIMEOUT_MS,
    Browser,
    ChatServer,
    _serve,
    answers,
    ask,
    browser,  # noqa: F401  (a module-scoped fixture)
    expect,
    hostile_index,  # noqa: F401  (a module-scoped fixture)
    new_chat,
    norm,
    panel_settled,
    send,
    set_model,
    shot,
    text_of,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium (make chromium)"
    ),
]

PHONE = {"width": 390, "height": 844}
# Holds back socket.io's handshakes (polling GETs without a sid) in the page until the
# test calls window.__release(): the composer shows, but the chat is not connected (what a
# slow network or a busy server looks like). Released by the test, not by a timer, so a
# slow machine cannot connect the chat before the test has pressed Enter.
HELD_SOCKET = """(() => {
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  const held = [];
  window.__held = 0;
  window.__released = false;
  window.__release = () => {
    window.__released = true;
    held.splice(0).forEach(go => go());
  };
  XMLHttpRequest.prototype.open = function (m, u) {
    this.__url = String(u); return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (!window.__released && this.__url.includes('/ws/socket.io/')
        && !this.__url.includes('sid=')) {
      window.__held += 1;
      const xhr = this, args = arguments;
      held.push(() => send.apply(xhr, args));
      return;
    }
    return send.apply(this, arguments);
  };
})();"""


# Holds the page's thread-list requests until window.__releaseThreads(): chainlit moves a
# new chat to /thread/<id> only once that list is back (late on a busy server), and the
# move mounts a new message box.
HELD_THREADS = """(() => {
  const real = window.fetch, held = [];
  window.__threadsHeld = 0;
  window.__releaseThreads = () => {
    window.__threadsReleased = true;
    held.splice(0).forEach(go => go());
  };
  window.fetch = function (input, init) {
    const url = String((input && input.url) || input);
    if (!window.__threadsReleased && url.includes('/project/threads')) {
      window.__threadsHeld += 1;
      return new Promise(res => held.push(() => res(real.call(window, input, init))));
    }
    return real.apply(window, arguments);
  };
})();"""


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture(scope="module")
def news_server(
    tmp_path_factory: pytest.TempPathFactory,
    hostile_index: Path,  # noqa: F811
    llm: FakeOpenAIServer,
) -> Iterator[ChatServer]:
    yield from _serve(
        tmp_path_factory,
        "newcomer",
        hostile_index,
        RAG_LLM__API_BASE=llm.base_url,
        RAG_LLM__API_KEY="sk-test-newcomer-1234",
        RAG_LLM__MAX_RETRIES="0",
    )


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> Iterator[ChatServer]:
    base = tmp_path_factory.mktemp("empty")
    (base / "nothing").mkdir()
    api.ingest([base / "nothing"], load_settings(index={"dir": base / "index"}), encoder=encoder)
    yield from _serve(tmp_path_factory, "empty", base / "index")


@pytest.fixture(scope="module")
def core(hostile_index: Path) -> api.Pipeline:  # noqa: F811
    return api.Pipeline(load_settings(index={"dir": hostile_index}))


def fresh_page(b: Browser, viewport: dict[str, int] | None = None, init: str | None = None) -> Any:
    """A new browser context: no cookies, as a first-time visitor."""
    page = b.new_page()
    if viewport:
        page.set_viewport_size(viewport)
    if init:
        page.context.add_init_script(init)
    return page


def faded_in(page: Any, selector: str) -> None:
    """The welcome screen fades in: wait until the element and its ancestors are opaque
    (a screenshot taken earlier is blank)."""
    page.wait_for_function(
        """(sel) => {
            for (let e = document.querySelector(sel); e; e = e.parentElement)
              if (parseFloat(getComputedStyle(e).opacity) < 1) return false;
            return !!document.querySelector(sel);
        }""",
        arg=selector,
    )


# --------------------------------------------------------------------------- first load


def test_first_load_goes_straight_to_the_chat(b: Browser, news_server: ChatServer) -> None:
    page = fresh_page(b)
    try:
        navs: list[str] = []
        page.on("framenavigated", lambda f: navs.append(f.url) if f == page.main_frame else None)
        t0 = time.monotonic()
        page.goto(news_server.base + "/")
        expect(page.locator("#chat-input")).to_be_visible()
        expect(page.locator("#starters button").first).to_be_visible()
        seconds = time.monotonic() - t0
        page.wait_for_timeout(1500)  # a late redirect would show here
        assert not [u for u in navs if "/login" in u], navs
        assert page.url.rstrip("/") == news_server.base
        (ARTIFACTS / "chat_first_load.json").write_text(
            json.dumps({"navigations": navs, "seconds_to_starters": round(seconds, 2)}, indent=2)
        )
        print(f"\nfirst load: starters after {seconds:.1f} s, navigations {navs}")
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def b(browser: Browser) -> Browser:  # noqa: F811
    return browser


# --------------------------------------------------------------------------- starters


def test_starters_come_from_the_loaded_index(
    b: Browser, news_server: ChatServer, core: api.Pipeline
) -> None:
    rows = core.index().doc_rows()
    expected = starter_questions(rows)
    assert [q["message"] for q in expected] == [
        "What does “<img src=x onerror=alert(1)> Outage [report](https://evil.example/t)” say?",
        "What does “New bridge opens over the Elbe” say?",
    ]  # the newest article first
    for viewport, name in (({"width": 1280, "height": 800}, "1280"), (PHONE, "390")):
        page = fresh_page(b, viewport)
        try:
            new_chat(page, news_server.base)
            buttons = page.locator("#starters button")
            expect(buttons).to_have_text([q["label"] for q in expected])
            expect(page.locator("#starters")).not_to_contain_text("Taliban")
            width = viewport["width"]
            for box in (buttons.nth(i).bounding_box() for i in range(buttons.count())):
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, box
            faded_in(page, "#starters button")
            shot(page, f"chat_starters_{name}.png")
            if name == "390":
                continue
            buttons.nth(1).click()  # the bridge
            msg = answers(page).first
            content = msg.locator(".message-content")
            expect(content).to_contain_text("model:")
            expect(content).to_contain_text("New bridge opens over the Elbe")
            assert "don't say" not in text_of(content)  # the starter gets an answer
        finally:
            page.context.close()


def test_no_starters_for_an_empty_index(b: Browser, empty_server: ChatServer) -> None:
    page = fresh_page(b)
    try:
        page.goto(empty_server.base + "/")
        expect(page.locator("#welcome-screen")).to_contain_text("No articles are loaded yet")
        page.wait_for_timeout(1000)
        expect(page.locator("#starters button")).to_have_count(0)
        faded_in(page, "#welcome-screen")
        shot(page, "chat_empty_index.png")
    finally:
        page.context.close()


# --------------------------------------------------------------------------- Enter early


def test_enter_before_the_socket_connects_is_kept_and_sent(
    b: Browser, news_server: ChatServer
) -> None:
    page = fresh_page(b, init=HELD_SOCKET)
    try:
        page.goto(news_server.base + "/")
        page.locator("#chat-input").wait_for(state="visible")
        page.wait_for_function("() => window.__held >= 1")  # the page tries to connect
        page.locator("#chat-input").fill(BRIDGE_Q)
        # the chat is not connected: no settings yet, chainlit's send button is disabled
        assert page.locator("#chat-settings-open-modal").count() == 0
        assert page.evaluate(
            "() => { const b = document.getElementById('chat-submit'); return !b || b.disabled; }"
        )
        page.locator("#chat-input").press("Enter")
        note = page.locator("#chat-pending")
        expect(note).to_contain_text("your question will be sent")
        shot(page, "chat_enter_before_connect.png")
        questions = page.locator('[data-step-type="user_message"]')
        assert questions.count() == 0  # kept, not sent into a chat that is not there
        page.evaluate("() => window.__release()")
        expect(questions).to_have_count(1, timeout=TIMEOUT_MS)
        expect(questions.first).to_contain_text(BRIDGE_Q)
        msg = answers(page).first
        expect(msg.locator(".message-content")).to_contain_text("opened to traffic")
        expect(note).to_have_count(0)
        page.wait_for_timeout(500)
        assert questions.count() == 1  # sent once
    finally:
        page.context.close()


def test_a_draft_survives_the_move_to_the_thread_page(b: Browser, news_server: ChatServer) -> None:
    """What is typed after the first answer, before chainlit moves the page to
    /thread/<id> (a new message box), stays in the box and is sent by Enter (public/chat.js;
    the browser tests' sends after a first answer were lost so under load)."""
    follow = "How much did the bridge cost?"
    page = fresh_page(b, init=HELD_THREADS)
    try:
        new_chat(page, news_server.base)
        ask(page, BRIDGE_Q)
        assert page.url.rstrip("/") == news_server.base  # not moved yet: the list is held
        assert page.evaluate("() => window.__threadsHeld") >= 1
        box = page.locator("#chat-input")
        box.fill(follow)
        page.evaluate("() => window.__releaseThreads()")
        expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]{36}$"))
        expect(box).to_have_value(follow)
        expect(page.locator("#chat-submit")).to_be_enabled()
        box.press("Enter")
        questions = page.locator('[data-step-type="user_message"]')
        expect(questions).to_have_count(2)
        expect(questions.nth(1)).to_contain_text(follow)
        expect(answers(page).nth(1).locator(".message-content")).to_contain_text("model:")
    finally:
        page.context.close()


def _socket(srv: ChatServer, cookie: str, session_id: str) -> tuple[Any, threading.Event]:
    """A socket.io connection as chainlit's page opens it (same auth fields), and an event
    set when the chat's settings arrive on it."""
    import socketio

    got = threading.Event()
    client = socketio.Client(reconnection=False)
    client.on("chat_settings", lambda _data: got.set())
    client.connect(
        srv.base,
        socketio_path="/ws/socket.io",
        headers={"Cookie": cookie},
        auth={
            "sessionId": session_id,
            "clientType": "webapp",
            "userEnv": "{}",
            "chatProfile": "News",
            "threadId": "",
        },
        transports=["polling"],
        wait_timeout=30,
    )
    client.emit("connection_successful")
    return client, got


def test_a_restored_session_gets_its_settings_again(news_server: ChatServer) -> None:
    """chainlit's page opens a second socket for the same session when its config comes
    back late (a busy server: its connect is debounced by only 200 ms) and closes the
    first. chainlit restores the session there without on_chat_start, so what was sent
    to the first socket and not yet read is lost: no settings, no gear, and a question
    typed then waits for it (the browser tests' send() timed out so under load)."""
    page = urllib.request.Request(news_server.base + "/", headers={"Accept": "text/html"})
    with urllib.request.urlopen(page, timeout=30) as r:
        cookie = "; ".join(c.split(";")[0] for c in r.headers.get_all("Set-Cookie") or [])
    assert cookie, "the local user's page comes with its session cookie"
    session_id = str(uuid.uuid4())
    first, got_first = _socket(news_server, cookie, session_id)
    try:
        assert got_first.wait(30), "on_chat_start sent no settings"
    finally:
        first.disconnect()
    second, got_second = _socket(news_server, cookie, session_id)  # the same session
    try:
        assert got_second.wait(30), "the restored session's socket never got the settings"
    finally:
        second.disconnect()


# --------------------------------------------------------------------------- previews


def _preview_status(srv: ChatServer, query: str, cookie: str | None = None) -> int:
    req = urllib.request.Request(srv.base + "/rag/citation?" + query)
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_hovering_a_marker_previews_its_passage(
    b: Browser, news_server: ChatServer, core: api.Pipeline
) -> None:
    expected = core.ask(BRIDGE_Q)
    c1 = next(c for c in expected.citations if c.n == 1)
    ch = c1.hit.chunk
    cited = [norm(ch.text[s - ch.start : e - ch.start]) for s, e in c1.quotes]
    for viewport, name in (({"width": 1280, "height": 800}, "1280"), (PHONE, "390")):
        page = fresh_page(b, viewport)
        try:
            new_chat(page, news_server.base)
            msg = ask(page, BRIDGE_Q)
            marker = msg.locator(".message-content a.element-link").first
            marker.hover()
            tip = page.locator("#citation-preview")
            expect(tip).to_be_visible()
            expect(tip.get_by_test_id("preview-title")).to_have_text(
                "[1] New bridge opens over the Elbe"
            )
            expect(tip.get_by_test_id("preview-meta")).to_have_text("Harbour Herald · 17 Apr 2025")
            quote = norm(tip.get_by_test_id("preview-quote").inner_text())
            assert all(s in quote for s in cited), (quote, cited)
            box = tip.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
            assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
            shot(page, f"chat_preview_{name}.png")
            page.mouse.move(2, 2)
            expect(tip).to_have_count(0)  # gone when the pointer leaves
            # keyboard users get it on focus too
            marker.focus()
            expect(tip).to_be_visible()
            page.keyboard.press("Escape")
            expect(tip).to_have_count(0)
            # the endpoint: the owner's session reads it, nobody else
            msg_id = msg.locator('[id^="step-"]').first.get_attribute("id").removeprefix("step-")
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
            assert _preview_status(news_server, f"message={msg_id}&n=1", cookie) == 200
            assert _preview_status(news_server, f"message={msg_id}&n=1") == 401
            assert _preview_status(news_server, f"message={msg_id}&n=9", cookie) == 404
            assert _preview_status(news_server, "message=nope&n=1", cookie) == 404
        finally:
            page.context.close()


def test_a_hostile_passage_previews_as_text(b: Browser, news_server: ChatServer) -> None:
    page = fresh_page(b)
    try:
        new_chat(page, news_server.base)
        page.evaluate("() => alert('control')")
        assert b.dialogs[-1:] == ["alert: control"]
        b.dialogs.clear()
        msg = ask(page, HOSTILE_Q)
        msg.locator(".message-content a.element-link").first.hover()
        tip = page.locator("#citation-preview")
        expect(tip.get_by_test_id("preview-title")).to_contain_text(
            "<img src=x onerror=alert(1)> Outage [report](https://evil.example/t)"
        )
        expect(tip).to_contain_text("Engineers restored service within two hours")
        assert tip.locator("img, script, a, iframe").count() == 0
        page.wait_for_timeout(300)
        assert b.dialogs == []
    finally:
        page.context.close()


# --------------------------------------------------------------------------- links, panel


def test_a_thread_link_opens_in_a_new_browser(b: Browser, news_server: ChatServer) -> None:
    page = fresh_page(b)
    try:
        new_chat(page, news_server.base)
        ask(page, BRIDGE_Q)
        expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]{36}$"))
        link = page.url
    finally:
        page.context.close()
    other = fresh_page(b)  # another browser: no cookie, no session
    try:
        navs: list[str] = []
        other.on("framenavigated", lambda f: navs.append(f.url) if f == other.main_frame else None)
        other.goto(link)
        msg = answers(other).first
        expect(msg.locator(".message-content")).to_contain_text("opened to traffic")
        expect(other.locator('[data-step-type="user_message"]').first).to_contain_text(BRIDGE_Q)
        assert other.url == link and not [u for u in navs if "/login" in u], navs
    finally:
        other.context.close()


def test_the_citation_panel_keeps_its_title_on_a_phone(b: Browser, news_server: ChatServer) -> None:
    page = fresh_page(b, PHONE)
    try:
        new_chat(page, news_server.base)
        msg = ask(page, HOSTILE_Q)
        page.wait_for_timeout(1000)
        # chainlit opens the panel by itself when an answer with citations arrives; on a
        # phone it is a sheet over the whole chat, and public/chat.js closes it too
        expect(page.locator("#side-view-content")).to_have_count(0)
        msg.locator(".message-content a.element-link").first.click()
        panel = page.locator("#side-view-content")
        title = panel.get_by_test_id("citation-title")
        expect(title).to_be_visible()
        panel_settled(page)
        page.wait_for_timeout(500)
        for part in (title, panel.get_by_test_id("citation-highlight").first):
            box = part.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
        shot(page, "chat_panel_390.png")
    finally:
        page.context.close()


# --------------------------------------------------------------------------- small things


def test_settings_dialog_shows_plain_text(b: Browser, news_server: ChatServer) -> None:
    page = fresh_page(b)
    try:
        new_chat(page, news_server.base)
        page.locator("#chat-settings-open-modal").click()
        dialog = page.locator("#chat-settings")
        expect(dialog).to_contain_text("offline (the built-in answerer) or a litellm model name")
        assert "`" not in dialog.inner_text()
        page.keyboard.press("Escape")
        page.get_by_text("Readme").click()
        readme = page.get_by_role("dialog")
        expect(readme).to_contain_text("the gear icon in the message box")
        assert "sliders" not in readme.inner_text()
    finally:
        page.context.close()


def test_the_server_log_says_things_once(
    b: Browser, news_server: ChatServer, llm: FakeOpenAIServer
) -> None:
    page = fresh_page(b)
    try:
        for _ in range(3):
            page.goto(news_server.base + "/")
            expect(page.locator("#starters button").first).to_be_visible()
        llm.responder = lambda req: "The bridge opened on Thursday [1]."
        set_model(page, "openai/test-model")
        send(page, BRIDGE_Q)
        expect(answers(page).first.locator(".message-content")).to_contain_text("model:")
    finally:
        page.context.close()
    log = news_server.log()
    assert "Translated markdown file" not in log
    calls = len(llm.chat_requests)
    assert calls >= 1
    litellm_lines = [x for x in log.splitlines() if "completion() model=" in x]
    assert len(litellm_lines) == calls, "\n".join(litellm_lines)  # once per call
