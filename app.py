"""The browser chat: `chainlit run app.py` from the repository top (`make chat`).

A thin face over the core API. `rag.api.Pipeline.ask_stream` yields `Retrieved` (what
was searched), then `Delta`s (streamed into the message), then `Final` (the Answer);
this file turns them into chainlit messages. Each `[n]` becomes a side-panel element
with the cited passage (and a hover preview); rendering, the welcome screen, the chat
database and users live in `rag.chat` (no chainlit there, unit-tested), and what the
app adds to chainlit's web server (local sign-in, previews) in `rag.chat.web`.
docs/chat.md describes settings and decisions.

What it does not do: retrieve, prompt, or build anything the core owns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import chainlit as cl
from chainlit.config import config as chainlit_config
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.input_widget import Slider, TextInput
from chainlit.types import ThreadDict
from chainlit.utils import utc_now

from rag.api import Final, Pipeline, Retrieved
from rag.chat import persistence, render, upload, users, web, welcome
from rag.config import load_settings
from rag.errors import RagError

log = logging.getLogger("rag.chat")

APP_DIR = Path(__file__).resolve().parent
CHAT_DIR = APP_DIR / ".chat"  # default database, element blobs, per-install auth secret
SETTINGS = load_settings()
PIPELINE = Pipeline(SETTINGS)
MAX_TOP_K = min(render.MAX_CITATIONS, SETTINGS.limits.max_top_k)


# --------------------------------------------------------------------------- startup


def _prepare_index() -> None:
    """Build the configured index on first use (as `rag ask` does) and run one search,
    so the first question does not wait for the model and the index to load."""
    try:
        PIPELINE.ensure_index(notice=log.warning)
        PIPELINE.retrieve("warm up", 1)
    except RagError as e:  # shown in the welcome line and with each question
        log.error("the articles cannot be loaded: %s", e)


def _install_citation_views() -> None:
    """chainlit loads a CustomElement's code from public/elements/<name>.jsx, and the
    name is the clickable text "[n]": give every marker a copy of Citation.jsx."""
    folder = APP_DIR / "public" / "elements"
    code = (folder / "Citation.jsx").read_text(encoding="utf-8")
    for n in range(1, render.MAX_CITATIONS + 1):
        target = folder / f"{render.element_name(n)}.jsx"
        if not target.is_file() or target.read_text(encoding="utf-8") != code:
            target.write_text(code, encoding="utf-8")


if Path(chainlit_config.root).resolve() != APP_DIR:
    log.warning("run chainlit from %s, or its config and public/ files are not found", APP_DIR)
_install_citation_views()
_prepare_index()

DATABASE = persistence.resolve_database(SETTINGS.chat.database_url, CHAT_DIR / "chat.sqlite3")
if DATABASE.sqlite_path is not None:
    persistence.ensure_sqlite_schema(DATABASE.sqlite_path)
BLOBS = (DATABASE.sqlite_path.parent if DATABASE.sqlite_path else CHAT_DIR) / "blobs"


@cl.data_layer
def _data_layer() -> SQLAlchemyDataLayer:
    return SQLAlchemyDataLayer(
        conninfo=DATABASE.url,
        storage_provider=persistence.LocalFileStorageClient(BLOBS),  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- sign-in

AUTH = users.auth_mode(SETTINGS.chat.users_file, chainlit_config.run.host)
if AUTH != "none":
    os.environ["CHAINLIT_AUTH_SECRET"] = users.auth_secret(
        os.environ.get("CHAINLIT_AUTH_SECRET"), CHAT_DIR / "auth_secret"
    )
if AUTH == "password":
    USERS_FILE = Path(SETTINGS.chat.users_file or "")
    users.load_users(USERS_FILE)  # a missing or broken file stops the app here

    @cl.password_auth_callback
    async def _password_login(username: str, password: str) -> cl.User | None:
        ok = await asyncio.to_thread(users.authenticate, USERS_FILE, username, password)
        return cl.User(identifier=username, metadata={"auth": "password"}) if ok else None

elif AUTH == "local":

    @cl.header_auth_callback
    async def _local_login(headers: Any) -> cl.User | None:
        return _local_user() if users.local_request(headers) else None

else:
    log.warning(
        "listening on %s without chat.users_file: no sign-in, so no conversation history",
        chainlit_config.run.host,
    )
log.info("chat history: %s; sign-in: %s", DATABASE.describe(), AUTH)


def _local_user() -> cl.User:
    return cl.User(identifier=users.LOCAL_USER, metadata={"auth": "local"})


web.install(
    local_user=_local_user if AUTH == "local" else None,
    is_local=users.local_request,
    require_owner=AUTH != "none",
)


# --------------------------------------------------------------------------- welcome


def _welcome() -> tuple[str, list[dict[str, str]]]:
    """The welcome line, and example questions about the newest loaded articles."""
    try:
        info = PIPELINE.describe()
        rows = PIPELINE.index().doc_rows() if info.get("documents") else []
        return welcome.welcome_markdown(info), welcome.starter_questions(rows)
    except RagError as e:
        return welcome.welcome_markdown(None, str(e)), []


@cl.set_chat_profiles
async def _profiles(user: cl.User | None = None, language: str | None = None) -> list:
    # One profile: its description is the welcome line and it carries the starters,
    # read on every page load (an ingest meanwhile shows). A message sent in
    # on_chat_start would hide both. Its icon must be set, or the description is not shown.
    text, starters = await asyncio.to_thread(_welcome)
    return [
        cl.ChatProfile(
            name="News",
            markdown_description=text,
            icon="/public/favicon.svg",
            starters=[cl.Starter(label=q["label"], message=q["message"]) for q in starters],
            default=True,
        )
    ]


# --------------------------------------------------------------------------- settings


def _current_settings() -> tuple[str, int | None]:
    """(model, top_k) of this chat, read on every question. top_k is None while the
    slider is at the setting's value: the core then decides, as for `rag ask` (more
    passages for a why, list or summary question to the built-in answerer)."""
    raw = cl.user_session.get("chat_settings") or {}
    model = str(raw.get("model") or "").strip()[:200] or SETTINGS.llm.model
    try:
        top_k = int(raw.get("top_k") or SETTINGS.retrieval.top_k)
    except (TypeError, ValueError):
        top_k = SETTINGS.retrieval.top_k
    top_k = max(1, min(top_k, MAX_TOP_K))
    return model, None if top_k == SETTINGS.retrieval.top_k else top_k


async def _send_settings() -> None:
    model, top_k = _current_settings()
    await cl.ChatSettings(
        [
            TextInput(
                id="model",
                label="Model",
                initial=model,
                description="offline (the built-in answerer) or a litellm model name, "
                "e.g. openai/gpt-4o-mini",
            ),
            Slider(
                id="top_k",
                label="Passages (top-k)",
                initial=top_k or SETTINGS.retrieval.top_k,
                min=1,
                max=MAX_TOP_K,
                step=1,
            ),
        ]
    ).send()


@cl.on_chat_start
async def _start() -> None:
    cl.user_session.set("history", [])
    await _send_settings()


@cl.on_chat_resume
async def _resume(thread: ThreadDict) -> None:
    cl.user_session.set("history", render.history_from_steps(thread.get("steps") or []))
    # The thread dict is what the browser receives next; the panel needs props objects.
    render.parse_element_props(thread.get("elements"))  # type: ignore[arg-type]
    await _send_settings()


web.resend_settings_on_restore(_send_settings)  # a page's second socket gets them too


# --------------------------------------------------------------------------- questions

_END = object()


async def _in_thread(events: Iterator[Any]) -> AsyncIterator[Any]:
    """Iterate the core's blocking generator off the event loop (else every other
    user's chat freezes while one question is answered)."""
    while True:
        ev = await asyncio.to_thread(next, events, _END)
        if ev is _END:
            return
        yield ev


@cl.on_message
async def _on_message(message: cl.Message) -> None:
    # chainlit makes a dropped PDF a cl.Pdf, an image a cl.Image...: every element with a file
    files = [e for e in message.elements or [] if getattr(e, "path", None)]
    uploads = files or upload.urls_alone(message.content or "")
    if uploads and not await _take_uploads(message, files):  # rag/chat/upload.py (issue 14)
        return
    history: list[dict[str, str]] = cl.user_session.get("history") or []
    model, top_k = _current_settings()
    llm = SETTINGS.llm.model_copy(update={"model": model})
    shown = PIPELINE.depth(message.content, top_k, llm)  # the passages the answerer sees
    turns = history[-2 * SETTINGS.chat.history_turns :] if SETTINGS.chat.history_turns else []

    t0 = time.perf_counter()
    msg = cl.Message(content="")
    msg.created_at = utc_now()  # a streamed message has none; the database sorts by it
    escaper = render.StreamEscaper()
    answer, searched = None, None
    try:
        events = PIPELINE.ask_stream(message.content, history=turns, top_k=top_k, llm=llm)
        async for ev in _in_thread(events):
            if isinstance(ev, Retrieved):
                searched = ev.search_query
            elif isinstance(ev, Final):
                answer = ev.answer
            elif piece := escaper.feed(ev.text):
                await msg.stream_token(piece)
        if answer is None:
            raise RuntimeError("the core ended without an answer")
    except RagError as e:
        log.warning("question failed: %s", e)
        await _send_error(msg, str(e))
        return
    except Exception:
        log.exception("question failed")
        await _send_error(msg, None)
        return

    cites = render.cited(answer)
    msg.content = render.answer_markdown(answer) + render.footer(
        model, shown, time.perf_counter() - t0, message.content, searched
    )
    # Sent with the message, the elements get for_id = msg.id: "[1]" opens this
    # answer's passage even when earlier answers also have a [1].
    props = {c.n: render.citation_props(c) for c in cites}
    msg.elements = [
        cl.CustomElement(name=render.element_name(n), props=p, display="side")
        for n, p in props.items()
    ]
    msg.metadata = {
        "answer_text": answer.text,  # what a resumed conversation passes as history
        "abstained": answer.abstained,
        "model": answer.model,
        "top_k": shown,
        "search_query": searched,
        "cited": [{"n": c.n, "chunk_id": c.hit.chunk.id} for c in cites],
    }
    await msg.send()  # not update(): that would store createdAt NULL and lose the order
    user = cl.user_session.get("user")
    web.CITATIONS.put(msg.id, getattr(user, "identifier", None), props)  # hover previews
    history += [
        {"role": "user", "content": message.content},
        {"role": "assistant", "content": answer.text},
    ]
    cl.user_session.set("history", history)


async def _take_uploads(message: cl.Message, files: list[Any]) -> bool:
    """Ingest dropped files / pasted URLs into the chat's index, showing progress; True
    when the message also asks a question to answer now."""
    got = [upload.Upload(f.name, Path(f.path) if f.path else None, f.size) for f in files]
    plan = upload.plan(got, message.content or "", SETTINGS)
    note = cl.Message(content="Adding your files to the index…", author="ingest")
    await note.send()
    if plan.files or plan.urls:
        loop = asyncio.get_running_loop()

        def progress(text: str) -> None:  # from the ingest's thread
            note.content = text
            asyncio.run_coroutine_threadsafe(note.update(), loop)

        try:
            note.content = await asyncio.to_thread(upload.ingest, plan, SETTINGS, progress)
        except RagError as e:
            note.content = f"**Could not add the files:** {render.md_escape(str(e))}"
    else:
        note.content = upload.summary_of_refusals(plan)
    await note.update()
    message.content = plan.question
    return bool(plan.question)


async def _send_error(msg: cl.Message, message: str | None) -> None:
    msg.content = render.error_markdown(message)
    msg.elements = []
    msg.is_error = True
    msg.metadata = {"error": True}
    await msg.send()
