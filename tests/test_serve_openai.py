"""`rag serve` through real OpenAI clients: the official `openai` SDK and litellm.

One server process (offline answerer, the bundled articles) on 127.0.0.1 answers
plain, streamed and follow-up chat completions; the answers must carry `[n]` markers
that `citations` resolves, a Sources footer that can be switched off, and `usage`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from rag.serve.service import FOOTER_HEAD

from .serve_helpers import ServeProcess

QUESTION = "Why did Russia lift the ban on the Taliban?"
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, bundled_index: Path) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-openai")
    index = root / "index"
    shutil.copytree(bundled_index, index)
    with ServeProcess(index, root / "serve.log") as s:
        yield s


@pytest.fixture
def client(server: ServeProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key="unused-without-keys", max_retries=0)


def body_and_footer(content: str) -> tuple[str, str]:
    head, sep, tail = content.partition(FOOTER_HEAD)
    return head, tail if sep else ""


def test_plain_completion_is_cited(client: openai.OpenAI, server: ServeProcess) -> None:
    r = client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}]
    )
    content = r.choices[0].message.content or ""
    text, footer = body_and_footer(content)
    assert r.choices[0].finish_reason == "stop" and r.model == "rag"
    citations = r.model_extra["citations"]
    numbers = {int(n) for n in MARKER.findall(text)}
    assert numbers and numbers == {c["n"] for c in citations}
    for c in citations:  # each marker resolves to a passage of the article, by its span
        assert c["doc_id"] and c["text"] and c["end"] > c["start"]
        assert f"[{c['n']}] {c['title']}" in footer
    assert "Taliban" in text
    assert r.usage is not None and r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.model_extra["rag"]["abstained"] is False
    sentences = r.model_extra["rag"]["sentences"]  # the per-sentence checks, passed through
    assert sentences and all(x["supported"] for x in sentences if x["claim"])
    assert {n for x in sentences for n in x["citations"]} <= numbers
    # the same answer as the REST contract (what `rag ask --json` prints)
    ask = httpx.post(server.url("/v1/ask"), json={"question": QUESTION}, timeout=60).json()
    assert ask["answer"] == text
    assert ask["citations"] == citations


def test_streamed_completion_equals_plain(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    plain = client.chat.completions.create(model="rag", messages=messages)
    stream = client.chat.completions.create(
        model="rag", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    pieces, finish, citations, usage, chunks = [], None, None, None, 0
    for chunk in stream:
        chunks += 1
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
                citations = chunk.model_extra["citations"]
    assert chunks >= 4  # role, text, footer, finish (+ usage)
    assert "".join(pieces) == plain.choices[0].message.content
    assert finish == "stop"
    assert citations == plain.model_extra["citations"]
    assert usage is not None and usage.total_tokens == plain.usage.total_tokens


def test_follow_up_uses_the_conversation(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}]
    )
    follow = "And what do critics say?"
    conversation = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": follow},
    ]
    r = client.chat.completions.create(model="rag", messages=conversation)
    searched = r.model_extra["rag"].get("search_query") or ""
    assert follow in searched and "Taliban" in searched  # condensed with the first question
    assert FOOTER_HEAD.strip() not in searched  # our own footer is not conversation
    alone = client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": follow}]
    )
    assert "search_query" not in alone.model_extra["rag"]  # no history: asked as is
    assert {c["doc_id"] for c in r.model_extra["citations"]} <= {
        "russia-lifts-ban-on-taliban",
        "why-russia-unbanned-the-taliban",
    }


def test_sources_footer_can_be_switched_off(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="rag",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"sources_footer": False, "top_k": 3},
    )
    content = r.choices[0].message.content or ""
    assert FOOTER_HEAD not in content and MARKER.search(content)
    assert r.model_extra["citations"]
    assert len(r.model_extra["rag"]["timings_ms"]) >= 2


def test_models_and_errors_through_the_sdk(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "rag" and "rag/offline" in ids
    assert client.models.retrieve("rag/offline").id == "rag/offline"
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    assert "gpt-4o" in str(e.value) and "rag/offline" in str(e.value)
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="rag", messages=[])
    assert "messages is empty" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": QUESTION}], n=2
        )
    assert "n" in e.value.body["param"]


def test_litellm_as_a_client(server: ServeProcess) -> None:
    from rag.llm import import_litellm

    litellm = import_litellm()
    kw = {
        "model": "openai/rag",
        "api_base": server.v1,
        "api_key": "unused-without-keys",
        "messages": [{"role": "user", "content": QUESTION}],
    }
    r = litellm.completion(**kw)
    content = r.choices[0].message.content
    assert MARKER.search(content) and FOOTER_HEAD in content
    assert r.usage.total_tokens > 0
    pieces = [
        c.choices[0].delta.content or "" for c in litellm.completion(stream=True, **kw) if c.choices
    ]
    assert "".join(pieces) == content
    with pytest.raises(litellm.NotFoundError):
        litellm.completion(**{**kw, "model": "openai/no-such-model"})
