"""The hand-written plain-style gold sets over MultiHop-RAG articles are sound: every fact
is verbatim in the article it names, and the held-out set shares no article with the
training set (the reranker trains on one and is checked on the other)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.eval.datasets import load_gold
from rag.eval.metrics import squash
from rag.ingest import record_id

from .conftest import MULTIHOP, ROOT

SETS = ("plain-train", "plain-heldout")


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))
    return {record_id(r): squash(f"{r['title']}\n{r['body']}") for r in records}


@pytest.mark.parametrize("name", SETS)
def test_every_fact_is_verbatim_in_its_article(name: str, corpus: dict[str, str]) -> None:
    items = load_gold(ROOT / "data" / "gold" / f"{name}.jsonl")
    answerable = [g for g in items if g.answerable]
    assert len(answerable) >= 40 and len(items) > len(answerable)  # both kinds present
    for g in items:
        if not g.answerable:
            assert not g.sources and not g.evidence, g.id
            continue
        assert g.sources and g.evidence, g.id
        body = "".join(corpus[s] for s in g.sources)
        for fact in g.evidence:
            assert squash(fact) in body, (g.id, fact)


def test_held_out_articles_are_not_trained_on() -> None:
    def articles(name: str) -> set[str]:
        path = Path(ROOT / "data" / "gold" / f"{name}.jsonl")
        return {s for g in load_gold(path) for s in g.sources}

    train, held = articles("plain-train"), articles("plain-heldout")
    assert train and held and not train & held
