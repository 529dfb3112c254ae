"""`rag serve`'s parts that need no server: the light import path, keys, rate limits,
conversations, the footer, Markdown defanging, and the core-error → status table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag import errors as core
from rag.cli import main
from rag.serve import keys
from rag.serve.errors import ApiError, from_rag_error
from rag.serve.ratelimit import RateLimiter
from rag.serve.service import FOOTER_HEAD, conversation, defang, strip_footer


def test_rag_ask_path_imports_no_web_framework() -> None:
    code = (
        "import sys, rag.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', "
        "'uvicorn', 'anyio', 'multipart'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_serve_without_the_extra_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi → ImportError
    with pytest.raises(SystemExit) as e:
        main(["serve"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: `rag serve` needs the serve extra: pip install 'rag[serve]' "
                   "(make install-dev has it)"]  # fmt: skip


def test_keys_file_round_trip_and_store_reload(tmp_path: Path) -> None:
    path = tmp_path / "k" / "keys.toml"
    a = keys.add_key(path, "alice", 30)
    b = keys.add_key(path, "bob")
    assert a != b and a.startswith("sk-rag-") and any(c.isdigit() for c in a[7:])
    stored = keys.load_keys(path)
    assert stored["alice"].rate_limit_per_min == 30 and stored["bob"].rate_limit_per_min is None
    assert stored["alice"].hash == keys.hash_key(a) and a not in path.read_text()
    store = keys.KeyStore(path)
    assert store.required
    assert store.check(a).name == "alice" and store.check(b).name == "bob"
    assert store.check(a + "x") is None and store.check(None) is None
    assert store.check("Bearer " + a) is None
    keys.remove_key(path, "alice")
    store._checked = 0.0  # the next check re-reads the changed file (it waits a second)
    assert store.check(a) is None and store.check(b).name == "bob"
    with pytest.raises(core.UsageError, match="no key named 'alice'"):
        keys.remove_key(path, "alice")
    with pytest.raises(core.UsageError, match="invalid key name"):
        keys.add_key(path, "bad name")
    path.write_text('[keys.x]\nhash = "md5$abc"\n')
    with pytest.raises(core.ConfigError, match="no sha256 hash"):
        keys.load_keys(path)
    assert keys.load_keys(tmp_path / "none.toml") == {}


def test_token_bucket() -> None:
    rl = RateLimiter()
    assert [rl.take("k", 3, now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.take("k", 3, now=100.0)
    assert wait == pytest.approx(20.0)  # one request per 20 s at 3/min
    assert RateLimiter.retry_after(wait) == "20"
    assert rl.take("k", 3, now=110.0) == pytest.approx(10.0)
    assert rl.take("k", 3, now=120.0) == 0.0
    assert rl.take("other", 3, now=120.0) == 0.0  # buckets are per key
    assert RateLimiter.retry_after(0.2) == "1"


def msg(role: str, content: object) -> SimpleNamespace:
    return SimpleNamespace(role=role, content=content)


def test_conversation_takes_the_last_question_and_earlier_turns() -> None:
    answer = "It was security [1]." + FOOTER_HEAD + "[1] Russia Lifts Ban"
    q, history = conversation(
        [
            msg("system", "Be brief."),
            msg("user", "Why did Russia lift the ban?"),
            msg("assistant", answer),
            msg("tool", "ignored"),
            msg("user", [SimpleNamespace(type="text", text="And critics?")]),
        ],
        max_turns=6,
    )
    assert q == "And critics?"
    assert history == [
        {"role": "user", "content": "Why did Russia lift the ban?"},
        {"role": "assistant", "content": "It was security [1]."},
    ]
    many = [msg("user" if i % 2 == 0 else "assistant", f"t{i}") for i in range(9)]
    assert len(conversation(many, max_turns=2)[1]) == 4
    assert conversation(many, max_turns=0)[1] == []
    for bad in ([], [msg("assistant", "x")], [msg("user", "  ")]):
        with pytest.raises(ApiError) as e:
            conversation(bad, max_turns=6)
        assert e.value.status == 400


def test_defang_makes_markdown_inert_but_keeps_markers() -> None:
    text = "See ![x](https://evil.example/?q=1) and [here](https://a.example) <img src=x> [2]."
    out = defang(text)
    assert "![" not in out and "](" not in out and "<img" not in out
    assert out.replace("\u2060", "") == text and "[2]." in out
    assert strip_footer("answer" + FOOTER_HEAD + "[1] t") == "answer"
    assert strip_footer("no footer") == "no footer"


class DamagedIndexError(core.IndexCorruptError):
    """What a later, more specific error of a damaged index looks like."""


def test_core_errors_map_through_their_nearest_base() -> None:
    cases = {
        core.UsageError("x"): 400,
        core.IndexNotFoundError("x"): 503,
        core.IndexCorruptError("x"): 503,
        DamagedIndexError("x"): 503,
        core.ModelError("x"): 502,
        core.RagError("x"): 500,
    }
    for err, status in cases.items():
        api = from_rag_error(err)
        assert api.status == status and api.message == "x"
        assert ("Retry-After" in api.headers) == (status == 503)
