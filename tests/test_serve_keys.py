"""`rag serve` with API keys, rate limits and deadlines; and behind it a real LLM server.

Keys are made with the real `rag keys add` command; the server is a real process on
127.0.0.1; the LLM behind `rag` is the fake OpenAI server (tests/openai_server.py),
the only fake, at the network boundary.
"""

from __future__ import annotations

import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from rag.serve.keys import new_key

from .openai_server import FakeOpenAIServer, Reply
from .serve_helpers import ServeProcess, serve_env

QUESTION = "Why did Russia lift the ban on the Taliban?"
ASK = {"question": QUESTION}


def rag_keys(keys_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "keys", *args, "--file", str(keys_file)],
        env=serve_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, bundled_index: Path) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("serve-keys")
    keys_file = root / "keys.toml"
    made = {}
    for name, rate in (("bot", "1000"), ("slow", "3"), ("gone", "1000")):
        p = rag_keys(keys_file, "add", name, "--rate", rate)
        assert p.returncode == 0, p.stderr
        made[name] = p.stdout.strip()
    with ServeProcess(bundled_index, root / "serve.log", keys_file=keys_file) as server:
        yield {"server": server, "keys": made, "file": keys_file}


def test_keys_are_shown_once_and_stored_as_hashes(keyed: dict) -> None:
    keys, keys_file = keyed["keys"], keyed["file"]
    for key in keys.values():
        assert re.fullmatch(r"sk-rag-[A-Za-z0-9]{43}", key)
    text = keys_file.read_text(encoding="utf-8")
    assert not any(k in text for k in keys.values())
    assert text.count("sha256$") == 3
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    listed = rag_keys(keys_file, "list")
    assert listed.returncode == 0 and "bot" in listed.stdout and "3/min" in listed.stdout
    assert not any(k in listed.stdout for k in keys.values())
    again = rag_keys(keys_file, "add", "bot")
    assert again.returncode == 2 and again.stdout == ""
    assert [ln for ln in again.stderr.splitlines() if ln] == [
        f"error: a key named 'bot' exists in {keys_file}; remove it first "
        "(`rag keys remove bot`) or pick another name"
    ]


def test_a_key_is_required(keyed: dict) -> None:
    server: ServeProcess = keyed["server"]
    assert "3 API key(s)" in server.log()
    assert httpx.get(server.url("/healthz"), timeout=30).status_code == 200  # no key needed
    r = httpx.post(server.url("/v1/ask"), json=ASK, timeout=30)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "missing_api_key"
    wrong = new_key()
    r = httpx.post(server.url("/v1/ask"), json=ASK, headers={"authorization": f"Bearer {wrong}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert wrong not in r.text  # never echoed
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.v1, api_key=wrong, max_retries=0).models.list()
    good = openai.OpenAI(base_url=server.v1, api_key=keyed["keys"]["bot"], max_retries=0)
    r2 = good.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
    assert r2.model_extra["citations"]


def test_rate_limit_per_key(keyed: dict) -> None:
    server: ServeProcess = keyed["server"]
    slow = {"authorization": f"Bearer {keyed['keys']['slow']}"}
    codes = [httpx.get(server.url("/v1/models"), headers=slow).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = httpx.get(server.url("/v1/models"), headers=slow)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(r.headers["retry-after"]) <= 20
    assert "3 requests per minute" in r.json()["error"]["message"]
    with pytest.raises(openai.RateLimitError):
        openai.OpenAI(
            base_url=server.v1, api_key=keyed["keys"]["slow"], max_retries=0
        ).models.list()
    bot = {"authorization": f"Bearer {keyed['keys']['bot']}"}
    assert httpx.get(server.url("/v1/models"), headers=bot).status_code == 200  # its own bucket


def test_a_removed_key_is_refused_without_a_restart(keyed: dict) -> None:
    server: ServeProcess = keyed["server"]
    gone = {"authorization": f"Bearer {keyed['keys']['gone']}"}
    assert httpx.get(server.url("/v1/models"), headers=gone).status_code == 200
    assert rag_keys(keyed["file"], "remove", "gone").returncode == 0
    deadline = time.monotonic() + 10
    while httpx.get(server.url("/v1/models"), headers=gone).status_code != 401:
        assert time.monotonic() < deadline, "the removed key still works"
        time.sleep(0.2)
    bot = {"authorization": f"Bearer {keyed['keys']['bot']}"}
    assert httpx.get(server.url("/v1/models"), headers=bot).status_code == 200


def test_keys_never_reach_the_log(keyed: dict) -> None:
    server: ServeProcess = keyed["server"]
    bot = keyed["keys"]["bot"]
    wrong = new_key()
    h = {"authorization": f"Bearer {bot}"}
    # a key in the path is logged by the access log: it must come out masked
    httpx.get(server.url(f"/v1/models/{bot}"), headers=h)
    httpx.get(server.url(f"/v1/{wrong}"), headers={"authorization": f"Bearer {wrong}"})
    httpx.post(server.url("/v1/ask"), json={"question": f"is {bot} a key?"}, headers=h)
    time.sleep(0.5)
    log = server.log()
    assert "key=bot" in log and "/v1/models/***" in log
    for k in (*keyed["keys"].values(), wrong):
        assert k not in log
        assert k[len("sk-rag-") :][:20] not in log


# --------------------------------------------------------------------------- an LLM behind


@pytest.fixture
def llm_server(
    tmp_path: Path, bundled_index: Path, openai_server: FakeOpenAIServer
) -> Iterator[tuple[ServeProcess, FakeOpenAIServer]]:
    env = {
        "RAG_LLM__MODEL": "openai/test-model",
        "RAG_LLM__API_BASE": openai_server.base_url,
        "RAG_LLM__MAX_RETRIES": "0",
        "RAG_SERVE__REQUEST_TIMEOUT_S": "6",
    }
    with ServeProcess(bundled_index, tmp_path / "serve.log", env=env) as s:
        yield s, openai_server


def test_an_llm_answer_and_its_deadline(
    llm_server: tuple[ServeProcess, FakeOpenAIServer],
) -> None:
    server, llm = llm_server
    client = openai.OpenAI(base_url=server.v1, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["rag", "rag/offline", "rag/openai/test-model"]
    llm.enqueue(
        Reply(
            "Moscow acted over security concerns [1].",
            usage={"prompt_tokens": 900, "completion_tokens": 11, "total_tokens": 911},
        )
    )
    r = client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}]
    )
    assert r.choices[0].message.content.startswith("Moscow acted over security concerns [1].")
    assert r.model_extra["rag"]["model"] == "openai/test-model"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (900, 11)  # the model's own
    sent = llm.chat_requests[-1].messages
    assert "Taliban" in sent[-1]["content"]  # the passages went to the model
    # a sentence no passage supports is marked, in the plain and the streamed form alike
    made_up = (
        "Moscow acted over security concerns [1]. The Taliban paid Moscow 5 billion dollars [2]."
    )
    llm.enqueue(made_up, made_up)
    messages = [{"role": "user", "content": QUESTION}]
    plain = client.chat.completions.create(model="rag", messages=messages)
    text = plain.choices[0].message.content
    assert "5 billion dollars" in text and "[unsupported]" in text, text
    flagged = [x for x in plain.model_extra["rag"]["sentences"] if not x["supported"]]
    assert [x["text"] for x in flagged] == ["The Taliban paid Moscow 5 billion dollars."]
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="rag", messages=messages, stream=True)
        if c.choices
    )
    assert streamed == text
    # the same server answers offline when asked for rag/offline
    off = client.chat.completions.create(
        model="rag/offline", messages=[{"role": "user", "content": QUESTION}]
    )
    assert off.model_extra["rag"]["model"] == "offline"
    # an LLM slower than the request's deadline: 504 in time, and the server goes on
    llm.enqueue(Reply("too late [1].", delay=30))
    t0 = time.monotonic()
    slow = httpx.post(
        server.url("/v1/chat/completions"),
        json={"model": "rag", "messages": [{"role": "user", "content": QUESTION}]},
        timeout=60,
    )
    took = time.monotonic() - t0
    assert slow.status_code == 504, slow.text
    assert slow.json()["error"]["code"] == "timeout" and took < 20, took
    assert "deadline of 6 s" in slow.json()["error"]["message"]
    assert httpx.get(server.url("/healthz")).status_code == 200
    assert off.choices[0].message.content
    # a body that stops arriving is cut at the deadline too
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"question": "Why'
        )
        raw = b""
        while chunk := sock.recv(65536):  # headers and body may come in two packets
            raw += chunk
            head, _, body = raw.partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", head, re.I)
            if length and len(body) >= int(length.group(1)):
                break
        reply = raw.decode()
    assert reply.startswith("HTTP/1.1 408"), reply
    assert "did not arrive within the request's deadline of 6 s" in reply
    assert httpx.get(server.url("/healthz")).status_code == 200
