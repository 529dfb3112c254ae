"""Secrets: an API key never appears in logs, errors, eval reports or printed output.

Two fake keys: one shaped like an OpenAI key (`sk-…`) and one that is not, so that both
the configured-key redaction and the pattern redaction are exercised. The LLM is a real
HTTP server on 127.0.0.1 that receives the key (checked) and, on purpose, echoes it back
in its error bodies, as real providers do ("Incorrect API key provided: sk-…").
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag import api
from rag.errors import ModelError

from .conftest import GOLD, settings_for, write
from .openai_server import FakeOpenAIServer, RecordedRequest, Reply

KEYS = ("sk-proj-FAKE0123456789abcdef", "opaque-Fake-Key-7f3e9d2c1b0a")
QUESTION = "why did Russia lift the ban"


def leaky(req: RecordedRequest) -> Reply:
    """A server that fails with the caller's key in its error body."""
    return Reply.http_error(401, f"Incorrect API key provided: {req.api_key}. Check it.")


def env_for(index: Path, server: FakeOpenAIServer, key: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_INDEX__DIR=str(index),
        RAG_LLM__MODEL="openai/test-model",
        RAG_LLM__API_BASE=server.base_url,
        RAG_LLM__API_KEY=key,
        RAG_LLM__MAX_RETRIES="0",
        **extra,
    )
    return env


@pytest.mark.parametrize("key", KEYS)
def test_errors_and_logs_never_show_the_key(
    key: str,
    bundled_index: Path,
    openai_server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, litellm's included
    s = settings_for(
        bundled_index,
        llm={"model": "openai/test-model", "api_base": openai_server.base_url, "api_key": key},
    )
    s.llm.max_retries = 0
    openai_server.enqueue("Security concerns drove it [1].")
    ok = api.Pipeline(s).ask(QUESTION)
    assert openai_server.chat_requests[-1].api_key == key  # the key was really sent
    assert key not in repr(ok) and key not in str(ok.to_dict())
    openai_server.responder = leaky
    with pytest.raises(ModelError) as e:
        api.Pipeline(s).ask(QUESTION)
    assert "401" in str(e.value) or "API key" in str(e.value)
    assert key not in str(e.value) and "***" in str(e.value)
    assert key not in repr(s) and key not in s.model_dump_json()
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    assert key not in logged


@pytest.mark.parametrize("key", KEYS)
def test_cli_output_never_shows_the_key(
    key: str, bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.responder = leaky
    env = env_for(bundled_index, openai_server, key, LITELLM_LOG="DEBUG")
    for args in (["ask", QUESTION], ["ask", QUESTION, "--json"]):
        p = subprocess.run(
            [sys.executable, "-m", "rag.cli", *args], env=env, capture_output=True, text=True
        )
        assert p.returncode == 1, p.stderr
        assert "test-model" in p.stderr and "Traceback" not in p.stderr
        assert key not in p.stdout + p.stderr
    assert openai_server.chat_requests and openai_server.chat_requests[-1].api_key == key


def test_eval_reports_never_show_the_key(
    bundled_index: Path, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    key = KEYS[1]
    gold = write(tmp_path / "gold.jsonl", "".join(GOLD.read_text().splitlines(True)[:4]))
    calls = {"n": 0}

    def first_ok_then_leaky(req: RecordedRequest) -> Reply:
        calls["n"] += 1
        if calls["n"] <= 2:
            return Reply(text="Security concerns drove it [1].")
        return leaky(req)

    openai_server.responder = first_ok_then_leaky
    out = tmp_path / "run"
    env = env_for(bundled_index, openai_server, key)
    p = subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", str(gold), "--out", str(out), "-q"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert key not in p.stdout + p.stderr
    assert p.returncode in (0, 1), p.stderr
    assert "Traceback" not in p.stderr
    files = [f for f in out.rglob("*") if f.is_file()]
    assert any(f.name == "items.jsonl" for f in files), (p.stderr, files)
    for f in files:
        assert key not in f.read_text(encoding="utf-8", errors="replace"), f
    assert openai_server.chat_requests[0].api_key == key


def test_a_provider_key_from_the_environment_is_kept_out_of_logs(
    bundled_index: Path,
    openai_server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "envkey-Fake-0a1b2c3d4e5f"
    monkeypatch.setenv("OPENAI_API_KEY", key)  # the provider's own variable, not our setting
    caplog.set_level(logging.DEBUG)
    s = settings_for(
        bundled_index,
        llm={"model": "openai/test-model", "api_base": openai_server.base_url, "max_retries": 0},
    )
    openai_server.responder = leaky
    with pytest.raises(ModelError) as e:
        api.Pipeline(s).ask(QUESTION)
    assert openai_server.chat_requests[-1].api_key == key
    assert key not in str(e.value)
    assert key not in caplog.text


def test_tracebacks_and_stacks_in_logs_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    from rag.llm import redact_logs

    key = "opaque-Trace-Key-9a8b7c6d5e"
    redact_logs(key)
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("some.library")
    try:
        raise RuntimeError(f"Incorrect API key provided: {key}")
    except RuntimeError as e:
        log.exception("call failed: %s", e)
    log.debug("where %s was used", key, stack_info=True)
    log.info("a slug such as sk-hynix-results is not a key")
    text = caplog.text
    assert "RuntimeError: Incorrect API key provided: ***" in text
    assert key not in text and "sk-hynix-results" in text
