"""Chunking: exact spans, the token budget, overlap, nothing lost."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunking import Chunker, ChunkParams, embed_text, header_text, split_sentences
from rag.types import Document

from .conftest import MULTIHOP


@pytest.fixture(scope="module")
def chunker(encoder: Any) -> Chunker:
    return Chunker(encoder.counter(), ChunkParams(max_tokens=256, overlap_tokens=32))


def _multihop_docs(n: int) -> list[Document]:
    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))[:n]
    return [
        Document(
            id=f"d{i}",
            title=r["title"],
            text=r["body"],
            source=r["source"],
            published_at=r["published_at"],
        )
        for i, r in enumerate(records)
    ]


def _check(doc: Document, chunker: Chunker) -> None:
    chunks = chunker.chunk(doc)
    assert chunks, "a non-empty document gives at least one chunk"
    counter = chunker.tokens
    covered = [False] * len(doc.text)
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        for s, e in c.sentences:
            assert c.start <= s < e <= c.end
            for i in range(s, e):
                covered[i] = True
        embedded = embed_text(c.text, header_text(doc))
        assert counter.count([embedded])[0] + 2 <= chunker.params.max_tokens
    lost = [ch for ch, cov in zip(doc.text, covered, strict=True) if not cov and not ch.isspace()]
    assert not lost, f"characters in no chunk: {''.join(lost)[:50]!r}"


def test_spans_budget_and_coverage_on_real_articles(chunker: Chunker) -> None:
    for doc in _multihop_docs(40):
        _check(doc, chunker)


def test_consecutive_chunks_overlap_by_whole_sentences(chunker: Chunker) -> None:
    doc = _multihop_docs(3)[2]
    chunks = chunker.chunk(doc)
    assert len(chunks) > 2
    for a, b in itertools.pairwise(chunks):
        shared = set(a.sentences) & set(b.sentences)
        assert b.start <= a.end or not shared
        tokens = sum(chunker.tokens.count([doc.text[s:e] for s, e in sorted(shared)]))
        assert tokens <= chunker.params.overlap_tokens
        assert b.end > a.end  # progress


def test_a_sentence_longer_than_the_budget_is_cut_at_spaces(chunker: Chunker) -> None:
    text = " ".join(f"word{i}" for i in range(2000))  # one "sentence", no punctuation
    doc = Document(id="long", title="A long one", text=text)
    _check(doc, chunker)
    for c in chunker.chunk(doc):
        assert not c.text.startswith(" ") and not c.text.endswith(" ")
        assert c.text.split()[0].startswith("word")


def test_sentences_split_at_paragraphs_and_keep_abbreviations() -> None:
    text = "Dr. Smith met the U.S. envoy. He left.\n\nA new paragraph starts here"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Dr. Smith met the U.S. envoy.",
        "He left.",
        "A new paragraph starts here",
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
            min_size=1,
            max_size=400,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_text_keeps_exact_spans(chunker: Chunker, parts: list[str]) -> None:
    text = ". ".join(parts) + " \u200b\u202eRTL\u202c end."
    doc = Document(id="h", title="T", text=text)
    chunks = chunker.chunk(doc)
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
    covered = set()
    for c in chunks:
        for s, e in c.sentences:
            covered.update(range(s, e))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace() and ch.isprintable())
