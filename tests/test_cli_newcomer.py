"""What a first-time user of the CLI trips over (issue 13): each case is an exit code and
one line on stderr with no traceback, and nothing stored is lost.

Model errors are checked against the network boundary: every TCP connection the process
opens is recorded, and the providers' endpoints point at a real HTTP server on 127.0.0.1
that records every request. A missing key or an unknown provider must fail with neither.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.store import current_generation

from .conftest import ROOT, write
from .openai_server import FakeOpenAIServer
from .test_cli import one_line_error, run

Q = "why did Russia lift the ban"
RAG = [sys.executable, "-c", "from rag.cli import main; main()"]


def rag_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True", COLUMNS="80", **extra)
    return env


# --------------------------------------------------------------------------- index


def test_an_index_that_is_a_file_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = write(tmp_path / "notes.txt", "my notes, not an index")
    code, out, err = run(capsys, "ingest", str(ROOT / "data" / "articles"), "--index", str(target))
    line = one_line_error(err)
    assert code == 2 and out == ""
    assert f"{target} is a file, not an index folder" in line and "FileExistsError" not in err
    assert target.read_text() == "my notes, not an index"  # untouched
    code, _, err = run(capsys, "ask", Q, "--index", str(target))
    assert code == 2 and "is a file, not an index folder" in one_line_error(err)


# --------------------------------------------------------------------------- top-k


@pytest.mark.parametrize("k", ["0", "-3", "51", "500"])
def test_top_k_out_of_range_is_worded_the_same_way(
    capsys: pytest.CaptureFixture[str], bundled_index: Path, k: str
) -> None:
    code, out, err = run(capsys, "ask", Q, "--index", str(bundled_index), "--top-k", k)
    assert code == 2 and out == ""
    assert one_line_error(err) == f"error: top-k {k} is out of range; use 1 to 50"


def test_eval_top_k_out_of_range_is_worded_the_same_way(
    capsys: pytest.CaptureFixture[str], bundled_index: Path
) -> None:
    gold = ROOT / "data" / "gold" / "bundled-dev.jsonl"
    for k in ("0", "51"):
        code, _, err = run(capsys, "eval", str(gold), "--index", str(bundled_index), "-k", k)
        assert code == 2
        assert one_line_error(err) == f"error: top-k {k} is out of range; use 1 to 50"


# --------------------------------------------------------------------------- users add


@pytest.mark.parametrize(
    ("stdin", "needle"),
    [
        ("first-pw1\nother-pw2\n", "the two passwords do not match"),
        ("", "no password: stdin is empty"),
        ("only-once1\n", "the password must be given twice"),
    ],
)
def test_users_add_with_piped_input(tmp_path: Path, stdin: str, needle: str) -> None:
    users = tmp_path / "users.toml"
    p = subprocess.run(
        [*RAG, "users", "add", "alice", "--file", str(users)],
        input=stdin,
        capture_output=True,
        text=True,
        env=rag_env(),
        timeout=120,
    )
    assert p.returncode == 2, p.stderr
    assert needle in one_line_error(p.stderr) and "Abort" not in p.stderr
    assert not users.exists()


def test_users_add_at_a_terminal_that_ends(tmp_path: Path) -> None:
    """Ctrl-D at the password prompt of a real terminal (a pty): one line, exit 2."""
    users = tmp_path / "users.toml"
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty
        os.environ.update(rag_env())
        os.execv(sys.executable, [*RAG, "users", "add", "alice", "--file", str(users)])
    out = b""
    status = None
    try:
        deadline = time.monotonic() + 120
        while b"Password" not in out and time.monotonic() < deadline:
            if select.select([fd], [], [], 1)[0]:
                out += os.read(fd, 4096)
        assert b"Password" in out, out
        # end of input; getpass flushes the terminal's input when it turns echo off, so
        # say it again until the child is gone
        while status is None and time.monotonic() < deadline:
            os.write(fd, b"\x04")
            if select.select([fd], [], [], 0.5)[0]:
                with contextlib.suppress(OSError):  # the child closed the terminal
                    out += os.read(fd, 4096)
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
        if status is None:
            os.kill(pid, 9)  # our own child, by its pid
            os.waitpid(pid, 0)
        while select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(fd)
    assert status is not None, out
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 2, text
    assert "error: no password entered; nothing was changed" in text
    assert "Traceback" not in text and "Abort" not in text
    assert not users.exists()


# --------------------------------------------------------------------------- ingest


def test_skips_are_counted_not_repeated(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "news"
    write(folder / "ok.md", "# Bridge opens\n\nThe new bridge opened on Thursday to traffic.\n")
    write(folder / "broken.json", '{"title": "Broken", "text": "tab\x01here"}')
    write(folder / "blob.txt", b"\x00\x01\x02binary")
    index = tmp_path / "idx"
    code, _, err = run(capsys, "ingest", str(folder), "--index", str(index), "-q")
    assert code == 0
    assert sorted(line.split(":")[0] for line in err.splitlines()) == [
        f"skipped {folder / 'blob.txt'}",
        f"skipped {folder / 'broken.json'}",
    ]
    # the JSON error is whole: where, and what (json's "... at" without its position cut)
    broken = next(line for line in err.splitlines() if "broken.json" in line)
    assert broken.endswith(
        "invalid JSON (line 1, column 33: invalid control character); fix the file"
    ), broken

    write(folder / "bad.jsonl", '{"title": "x", "text": "fine"}\n{"title": oops}\n')
    code, out, err = run(capsys, "ingest", str(folder), "--index", str(index), "-q")
    assert code == 0 and "3 skipped" in out
    lines = err.strip().splitlines()
    assert lines == [
        f"skipped {folder / 'bad.jsonl'}:2: invalid JSON line (line 1, column 11: expecting "
        "value); fix or remove it",
        "skipped 2 files as last time, for the same reasons (`rag ingest -v` lists them)",
    ]
    code, _, err = run(capsys, "ingest", str(folder), "--index", str(index), "-q", "-v")
    assert code == 0 and len(err.strip().splitlines()) == 3


# --------------------------------------------------------------------------- quotes


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("remains “the most repressive country for women’s rights.”",
         "“remains ‘the most repressive country for women’s rights.’”"),
        ('he said "no deal." and left', "“he said ‘no deal.’ and left”"),
        ("“From Moscow’s perspective,” notes Galeotti.",
         "“‘From Moscow’s perspective,’ notes Galeotti.”"),
        ("women's rights", "“women's rights”"),  # an apostrophe stays one
    ],
)  # fmt: skip
def test_quotes_inside_a_quotation_turn_single(text: str, shown: str) -> None:
    from rag.text import quoted

    assert quoted(text) == shown


def test_sources_quote_a_quotation_with_nested_quotes(
    capsys: pytest.CaptureFixture[str], bundled_index: Path
) -> None:
    """The bundled article's UN sentence ends in a quotation: its Sources line reads
    “… ‘… women’s rights.’”, never “… “… rights.”” (issue 13)."""
    question = "what does the United Nations report say about Afghanistan?"
    code, out, _ = run(capsys, "ask", question, "--index", str(bundled_index))
    assert code == 0
    _, _, sources = out.partition("Sources:")
    flat = " ".join(sources.split())
    assert "remains ‘the most repressive country in the world for women’s rights.’”" in flat
    assert "rights.””" not in flat
    assert flat.count("“") == flat.count("”")  # every quotation closed once


# --------------------------------------------------------------------------- rag docs


@pytest.fixture
def long_titles(tmp_path: Path, encoder: object) -> Path:
    from rag import api
    from rag.config import load_settings

    folder = tmp_path / "long"
    for i in range(3):
        write(
            folder / f"a-very-long-article-file-name-about-municipal-budgets-number-{i}.md",
            "---\ntitle: \"The city council's long-awaited budget debate drags on into a "
            f'{i + 2}th night as members argue over every line of spending"\n'
            'source: "The Very Long Name of a Regional Newspaper Group"\n'
            f'published_at: "2025-03-0{i + 1}"\n---\n\n'
            "The council met again on Tuesday. Members argued about the roads budget.\n",
        )
    index = tmp_path / "idx"
    api.ingest([folder], load_settings(index={"dir": index}), encoder=encoder)  # type: ignore[arg-type]
    return index


def test_docs_fits_80_columns_and_wide_shows_all(
    capsys: pytest.CaptureFixture[str], long_titles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, "docs", "--index", str(long_titles))
    assert code == 0
    lines = out.rstrip("\n").splitlines()
    assert len(lines) == 1 + 3 + 1  # header, one line per document, the summary
    assert all(len(line) <= 80 for line in lines[:-1]), lines
    assert lines[0].split() == ["published", "chunks", "source", "title"]
    assert lines[1].startswith("2025-03-01") and "The city council" in lines[1]
    assert "…" in lines[1]  # cut, not wrapped

    code, out, _ = run(capsys, "docs", "--index", str(long_titles), "--wide")
    assert code == 0
    flat = " ".join(out.split())
    assert "a-very-long-article-file-name-about-municipal-budgets-number-2" in flat
    assert "argue over every line of spending" in flat
    assert "The Very Long Name of a Regional Newspaper Group" in flat


# --------------------------------------------------------------------------- models


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every TCP/UDP connection the process opens from now on (the network boundary)."""
    seen: list[object] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen.append(address)
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    """No provider keys; every provider's endpoint variable points at the recording server."""
    for var in list(os.environ):
        if var.endswith(("_API_KEY", "_TOKEN")) or var.endswith(("_API_BASE", "_BASE_URL")):
            monkeypatch.delenv(var)
    for var in ("OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_BASE", "GROQ_API_BASE"):
        monkeypatch.setenv(var, openai_server.base_url)
    return openai_server


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("openai/gpt-4o-mini", "OPENAI_API_KEY"),
        ("gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic/claude-3-5-haiku-latest", "ANTHROPIC_API_KEY"),
        ("groq/llama-3.1-8b-instant", "GROQ_API_KEY"),
    ],
)
def test_a_missing_key_fails_before_any_request(
    capsys: pytest.CaptureFixture[str],
    bundled_index: Path,
    no_keys: FakeOpenAIServer,
    connections: list[object],
    model: str,
    variable: str,
) -> None:
    code, out, err = run(capsys, "ask", Q, "--index", str(bundled_index), "--model", model)
    line = one_line_error(err)
    assert code == 1 and out == ""
    assert line == (
        f"error: model {model} needs the API key {variable}, which is not set; export "
        f"{variable}=... or set RAG_LLM__API_KEY, or use the model `offline`"
    )
    assert no_keys.requests == [] and connections == []  # no network call made


@pytest.mark.parametrize("model", ["anthropic/claude-3-5-haiku-latest", "openai/gpt-4o-mini"])
def test_a_well_known_missing_key_fails_before_litellm_is_imported(
    bundled_index: Path, tmp_path: Path, model: str
) -> None:
    """ "At once": the key a well-known provider needs is checked before litellm (3-10 s
    to import) and before retrieval; litellm's own check agrees (the test above)."""
    env = {k: v for k, v in rag_env().items() if not k.endswith(("_API_KEY", "_API_BASE"))}
    probe = (
        "import sys\n"
        "from rag.cli import main\n"
        "try:\n"
        f"    main(['ask', 'why', '--index', {str(bundled_index)!r}, '--model', {model!r}])\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code, 'litellm' in sys.modules)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    variable = "ANTHROPIC_API_KEY" if model.startswith("anthropic") else "OPENAI_API_KEY"
    assert p.stdout.split() == ["exit", "1", "False"], (p.stdout, p.stderr)
    assert one_line_error(p.stderr) == (
        f"error: model {model} needs the API key {variable}, which is not set; export "
        f"{variable}=... or set RAG_LLM__API_KEY, or use the model `offline`"
    )


def test_a_configured_key_passes_the_check(
    bundled_index: Path, no_keys: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check does not refuse what would work: with the key set, the call is made."""
    from rag import api
    from rag.config import load_settings

    no_keys.enqueue("Security concerns drove it [1].")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-from-env-0001")
    s = load_settings(index={"dir": bundled_index}, llm={"model": "openai/test-model"})
    a = api.Pipeline(s).ask(Q)
    assert a.model == "openai/test-model" and "Security concerns drove it" in a.text
    assert len(no_keys.chat_requests) == 1
    assert no_keys.chat_requests[0].api_key == "sk-test-from-env-0001"


def test_an_unknown_provider_fails_at_once_with_the_whole_message(
    capsys: pytest.CaptureFixture[str], bundled_index: Path, connections: list[object]
) -> None:
    code, out, err = run(capsys, "ask", Q, "--index", str(bundled_index), "--model", "nonsense/x")
    line = one_line_error(err)
    assert code == 1 and out == ""
    assert line == (
        "error: model nonsense/x: litellm knows no provider 'nonsense'; write PROVIDER/MODEL, "
        "e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest or ollama/llama3 "
        "(all providers: https://docs.litellm.ai/docs/providers), or use the model `offline`"
    )
    assert connections == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_local_server_is_said_once_without_retries(
    capsys: pytest.CaptureFixture[str],
    bundled_index: Path,
    connections: list[object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = _free_port()  # nothing listens there
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("RAG_LLM__API_BASE", base)
    code, out, err = run(capsys, "ask", Q, "--index", str(bundled_index), "-m", "ollama/llama3")
    line = one_line_error(err)
    assert code == 1 and out == ""
    assert line == (
        f"error: model ollama/llama3: no server at {base} (connection refused); start "
        "`ollama serve` or point RAG_LLM__API_BASE at a running one"
    )
    assert [a for a in connections if a[1] == port] == [("127.0.0.1", port)]  # type: ignore[index]


def test_ollama_default_endpoint_is_named(
    capsys: pytest.CaptureFixture[str], bundled_index: Path
) -> None:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 11434)) == 0:
            pytest.skip("something listens on 11434 here")
    code, _, err = run(capsys, "ask", Q, "--index", str(bundled_index), "-m", "ollama/llama3")
    assert code == 1
    assert "no server at http://localhost:11434 (connection refused)" in one_line_error(err)


def test_a_refused_connection_is_not_retried_by_the_call(connections: list[object]) -> None:
    """Past the pre-check (the server went away since), the call itself tries once."""
    from rag.config import LLMSettings
    from rag.errors import ModelError
    from rag.llm import Call

    port = _free_port()
    llm = LLMSettings(
        model="openai/test-model",
        api_base=f"http://127.0.0.1:{port}/v1",
        api_key="sk-test-0000000001",
        max_retries=3,
        retry_base_s=0.01,
    )
    call = Call([{"role": "user", "content": "hi"}], llm)
    with pytest.raises(ModelError) as e:
        list(call)
    assert call.attempts == 1
    assert f"no server at http://127.0.0.1:{port}/v1 (connection refused)" in str(e.value)
    assert "after" not in str(e.value)
    # the SDK may try the address once per resolved family, never three rounds
    assert 1 <= len([a for a in connections if a[1] == port]) <= 2  # type: ignore[index]


def test_the_key_check_covers_eval_before_any_question(
    capsys: pytest.CaptureFixture[str],
    bundled_index: Path,
    no_keys: FakeOpenAIServer,
    connections: list[object],
    tmp_path: Path,
) -> None:
    gold = ROOT / "data" / "gold" / "bundled-dev.jsonl"
    out_dir = tmp_path / "run"
    code, _, err = run(
        capsys, "eval", str(gold), "--index", str(bundled_index), "-m", "openai/x", "--out",
        str(out_dir), "-q",
    )  # fmt: skip
    assert code == 1
    assert "needs the API key OPENAI_API_KEY" in one_line_error(err)
    assert no_keys.requests == [] and connections == []
    assert not (out_dir / "items.jsonl").exists() or not (out_dir / "items.jsonl").read_text()


def test_nothing_is_lost_by_a_failed_ask(
    capsys: pytest.CaptureFixture[str], index_copy: Path, no_keys: FakeOpenAIServer
) -> None:
    gen = current_generation(index_copy)
    code, _, _ = run(capsys, "ask", Q, "--index", str(index_copy), "-m", "openai/gpt-4o-mini")
    assert code == 1 and current_generation(index_copy) == gen
    json.loads((index_copy / gen / "manifest.json").read_text())  # type: ignore[operator]
