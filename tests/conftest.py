"""Shared fixtures. All state lives in temporary folders (autouse `isolated`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from rag import api
from rag.config import Settings, load_settings
from rag.embed import get_encoder
from rag.resources import articles_dir

# Property tests draw the same examples on every run (a red CI must mean a change, not
# luck); HYPOTHESIS_PROFILE=explore draws new ones each time, to hunt for bugs.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MULTIHOP = SHARED / "data" / "multihop-rag"
GOLD = ROOT / "data" / "gold" / "bundled-dev.jsonl"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test runs in its own folder with no RAG_* settings and no config file."""
    for k in list(os.environ):
        if k.startswith("RAG_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_INDEX__DIR", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_SERVE__KEYS_FILE", str(tmp_path / "keys.toml"))  # never the real one
    api._PIPELINES.clear()
    yield tmp_path
    api._PIPELINES.clear()


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.texts = 0
        self.name, self.backend, self.dim = inner.name, inner.backend, inner.dim
        self.max_tokens = inner.max_tokens

    def counter(self) -> Any:
        return self.inner.counter()

    def encode(self, texts: Sequence[str], **kw: Any) -> Any:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.encode(texts, **kw)

    def encode_with_spans(self, texts: Sequence[str], spans: Any, **kw: Any) -> Any:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.encode_with_spans(texts, spans, **kw)


@pytest.fixture(scope="session")
def encoder() -> Any:
    return get_encoder("all-MiniLM-L6-v2")


@pytest.fixture
def counting(encoder: Any) -> CountingEncoder:
    return CountingEncoder(encoder)


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> Path:
    """An index of the two bundled articles, built once per session (do not modify)."""
    d = tmp_path_factory.mktemp("bundled") / "index"
    api.ingest([articles_dir()], load_settings(index={"dir": d}), encoder=encoder)
    return d


@pytest.fixture
def index_copy(bundled_index: Path, tmp_path: Path) -> Path:
    """A private copy of the bundled index that a test may change."""
    d = tmp_path / "index-copy"
    shutil.copytree(bundled_index, d)
    return d


def settings_for(index: Path, **groups: Any) -> Settings:
    return load_settings(index={"dir": index}, **groups)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


pytest_plugins = ["tests.openai_server", "tests.news_server"]
