"""The litellm path against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag import api
from rag.cli import main
from rag.errors import ModelError

from .conftest import settings_for
from .openai_server import FakeOpenAIServer, Reply

QUESTION = "why did Russia lift the ban"


def _pipeline(index: Path, server: FakeOpenAIServer, **llm: object) -> api.Pipeline:
    s = settings_for(
        index,
        llm={
            "model": "openai/test-model",
            "api_base": server.base_url,
            "api_key": "sk-test-1234567",
            "max_retries": 0,
            "timeout_s": 20,
            **llm,
        },
    )
    return api.Pipeline(s)


def _passage_with(p: api.Pipeline, phrase: str) -> int:
    """The number (1-based) of the shown passage that holds `phrase`: the ranking of the
    bundled index may differ by CPU (int8 vectors), so tests cite by content."""
    hits = p.retrieve(QUESTION)
    return next(i for i, h in enumerate(hits, 1) if phrase in h.chunk.text)


def test_non_streamed_answer_drops_a_bogus_marker(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    p = _pipeline(bundled_index, openai_server)
    k = _passage_with(p, "driven by growing security concerns")
    openai_server.enqueue(
        f"Moscow's stance is driven by growing security concerns [{k}]. It also wants trade [9]."
    )
    a = p.ask(QUESTION)
    assert (
        a.text == "Moscow's stance is driven by growing security concerns [1]. It also wants trade."
    )
    assert [c.n for c in a.citations] == [1] and a.citations[0].hit is a.hits[k - 1]
    assert [s.supported for s in a.sentences] == [True, False]  # no passage says "trade"
    assert a.dropped_markers == [9] and "[9]" in a.raw_text
    assert not a.abstained and a.model == "openai/test-model"
    assert a.usage.prompt_tokens and a.usage.completion_tokens
    req = openai_server.chat_requests[-1]
    assert req.model == "test-model" and not req.stream
    assert req.api_key == "sk-test-1234567"
    system, user = req.messages
    assert system["role"] == "system" and "quoted data" in system["content"]
    lines = user["content"].splitlines()
    assert [x.split("]")[0] for x in lines if x.startswith("[")] == [f"[{i}" for i in range(1, 6)]
    assert f"\nQuestion: {QUESTION}\n" in user["content"]
    assert "Example: " in system["content"]  # a one-line example of the citation format


def test_streamed_answer_never_shows_a_bogus_marker(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    p = _pipeline(bundled_index, openai_server)
    court = _passage_with(p, "Supreme Court")
    women = _passage_with(p, "substantial reforms regarding women's rights")
    text = (
        f"The Russian government formally lifted the ban after a Supreme Court hearing "
        f"[{court}][7]. Western diplomats tie recognition to reforms on women's rights "
        f"[{women}]. Done [12]."
    )
    openai_server.enqueue(Reply(text=text, chunk_size=3))
    events = list(p.ask_stream(QUESTION))
    deltas = [e.text for e in events if isinstance(e, api.Delta)]
    assert len(deltas) > 5  # it really streamed
    final = events[-1].answer
    second = 1 if women == court else 2  # markers renumbered in order of first use
    draft = (
        "The Russian government formally lifted the ban after a Supreme Court hearing [1]. "
        f"Western diplomats tie recognition to reforms on women's rights [{second}]. Done."
    )
    assert "".join(deltas).strip() == draft  # the stream showed the draft, markers cleaned
    assert final.text == draft  # each marker was checked and kept
    assert all("7" not in d and "12" not in d for d in deltas)
    assert [c.hit.chunk.id for c in final.citations] == list(
        dict.fromkeys([final.hits[court - 1].chunk.id, final.hits[women - 1].chunk.id])
    )
    assert openai_server.chat_requests[-1].stream


def test_an_llm_abstention_has_no_sources(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue("The indexed articles don't say who won the match [1].")
    a = _pipeline(bundled_index, openai_server).ask("who won the match?")
    assert a.abstained and a.citations == [] and "[" not in a.text


def test_unreachable_server_names_model_and_api_base(bundled_index: Path) -> None:
    s = settings_for(
        bundled_index,
        llm={
            "model": "openai/test-model",
            "api_base": "http://127.0.0.1:9/v1",
            "max_retries": 0,
            "api_key": "sk-secret-abcdef123",
        },
    )
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as e:
        api.Pipeline(s).ask(QUESTION)
    msg = str(e.value)
    assert "openai/test-model" in msg and "http://127.0.0.1:9/v1" in msg
    assert "sk-secret" not in msg and "\n" not in msg
    assert time.perf_counter() - t0 < 30


def test_server_error_message_never_leaks_the_key(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(Reply.http_error(401, "Incorrect API key provided: sk-test-1234567"))
    with pytest.raises(ModelError) as e:
        _pipeline(bundled_index, openai_server).ask(QUESTION)
    assert "sk-test-1234567" not in str(e.value) and "***" in str(e.value)


def test_cli_unknown_model_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], bundled_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_LLM__MAX_RETRIES", "0")
    with pytest.raises(SystemExit) as e:
        main(["ask", QUESTION, "--index", str(bundled_index), "--model", "nonexistent/xyz"])
    lines = capsys.readouterr().err.strip().splitlines()
    reading = [x for x in lines if x.startswith(("Reading ", "  ["))]  # before the model
    err = "\n".join(x for x in lines if x not in reading)
    assert e.value.code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "nonexistent/xyz" in err


def test_cli_shows_the_passages_before_a_remote_model_answers(
    capsys: pytest.CaptureFixture[str],
    bundled_index: Path,
    openai_server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    openai_server.enqueue("Moscow's stance is driven by growing security concerns [2].")
    monkeypatch.setenv("RAG_LLM__API_BASE", openai_server.base_url)
    monkeypatch.setenv("RAG_LLM__API_KEY", "sk-test-1234567")
    main(["ask", QUESTION, "--index", str(bundled_index), "--model", "openai/test-model"])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert lines[0] == "Reading 5 passages for openai/test-model:"
    assert [x.split("]")[0] for x in lines[1:6]] == [f"  [{i}" for i in range(1, 6)]
    assert "Russia Lifts Ban on Taliban" in err or "Unbanned the Taliban" in err
    assert out.startswith("Moscow's stance is driven by growing security concerns [1].")
    assert "\nSources:\n[1] " in out
