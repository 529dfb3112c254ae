"""A misbehaving OpenAI-compatible server: bounded retries, deadlines, clear errors, fallback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from rag import api
from rag.errors import ModelError

from .conftest import settings_for
from .openai_server import FakeOpenAIServer, Fault, Reply

Q = "why did Russia lift the ban"
GOOD = "Security concerns drove it [1]."


def pipeline(index: Path, server: FakeOpenAIServer, **llm: Any) -> api.Pipeline:
    base = {
        "model": "openai/test-model",
        "api_base": server.base_url,
        "api_key": "sk-fake-0001",
        "max_retries": 2,
        "timeout_s": 5,
        "retry_base_s": 0.05,
        "deadline_s": 30,
    }
    return api.Pipeline(settings_for(index, llm=base | llm))


def streamed(p: api.Pipeline) -> tuple[str, api.Answer]:
    events = list(p.ask_stream(Q))
    shown = "".join(e.text for e in events if isinstance(e, api.Delta))
    return shown, events[-1].answer


def test_rate_limit_waits_for_retry_after_then_answers(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply.rate_limited(retry_after=1), GOOD)
    t0 = time.perf_counter()
    a = pipeline(bundled_index, openai_server).ask(Q)
    assert a.raw_text == GOOD and len(openai_server.chat_requests) == 2
    assert time.perf_counter() - t0 >= 1.0


def test_server_errors_are_retried_with_a_bound(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply.server_error(), Reply.server_error(), GOOD)
    assert pipeline(bundled_index, openai_server).ask(Q).raw_text == GOOD
    openai_server.reset()
    openai_server.enqueue(*[Reply.server_error()] * 5)
    with pytest.raises(ModelError, match="after 3 attempts") as e:
        pipeline(bundled_index, openai_server).ask(Q)
    assert "openai/test-model" in str(e.value) and openai_server.base_url in str(e.value)
    assert len(openai_server.chat_requests) == 3  # 1 + max_retries, then it stops


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_refused_request_is_not_retried(
    bundled_index: Path, openai_server: FakeOpenAIServer, status: int
) -> None:
    openai_server.enqueue(*[Reply.http_error(status, "no such model")] * 3, GOOD)
    with pytest.raises(ModelError) as e:
        pipeline(bundled_index, openai_server).ask(Q)
    assert len(openai_server.chat_requests) == 1  # asking again gets the same answer
    assert "after" not in str(e.value) and "no such model" in str(e.value)


def test_a_retry_after_beyond_the_wait_limit_fails_at_once(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply.rate_limited(retry_after=3600), GOOD)
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="asks to wait 3600 s"):
        pipeline(bundled_index, openai_server).ask(Q)
    assert time.perf_counter() - t0 < 5 and len(openai_server.chat_requests) == 1


def test_a_silent_server_times_out_within_the_deadline(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply.delayed(30), Reply.delayed(30), Reply.delayed(30))
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="Timeout"):
        pipeline(bundled_index, openai_server, timeout_s=0.5, max_retries=1).ask(Q)
    assert time.perf_counter() - t0 < 6


def test_a_slow_stream_is_cut_at_the_deadline(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply(text="word " * 200, chunk_size=5, chunk_delay=0.1))
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="did not finish within 1 s"):
        streamed(pipeline(bundled_index, openai_server, deadline_s=1))
    assert time.perf_counter() - t0 < 4


def test_a_broken_stream_before_any_text_is_retried(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply(text=GOOD, fault=Fault.CUT, cut_after=0), Reply(text=GOOD))
    shown, a = streamed(pipeline(bundled_index, openai_server))
    assert a.raw_text == GOOD and shown.strip() == GOOD  # the draft; a.text is checked
    assert len(openai_server.chat_requests) == 2


def test_a_stream_cut_mid_answer_is_a_clear_error(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply.cut("Security concerns were the main reason for it.", 3))
    with pytest.raises(ModelError, match="cut off mid-stream"):
        streamed(pipeline(bundled_index, openai_server))
    assert len(openai_server.chat_requests) == 1  # not retried: part of it was shown


@pytest.mark.parametrize("reply", [Reply.empty(), Reply.cut("Security concerns were", 2)])
def test_fallback_to_the_offline_answer(
    bundled_index: Path, openai_server: FakeOpenAIServer, reply: Reply
) -> None:
    openai_server.enqueue(reply)
    p = pipeline(bundled_index, openai_server, fallback_offline=True, max_retries=0)
    shown, a = streamed(p)
    assert a.model == "offline" and "Answering offline instead" in a.text
    assert a.citations and "[1]" in a.text
    assert "Answering offline instead" in shown


def test_an_empty_answer_is_an_error_without_fallback(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply.empty())
    with pytest.raises(ModelError, match="empty answer"):
        pipeline(bundled_index, openai_server, max_retries=0).ask(Q)
