"""Gold sets: our JSONL, the MultiHop-RAG adapter on the real file, malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.eval.datasets import load_gold
from rag.ingest import read_paths
from rag.text import fold

from .conftest import GOLD, MULTIHOP, write

QUERIES = MULTIHOP / "queries-dev.json"
CORPUS = MULTIHOP / "corpus.json"
needs_multihop = pytest.mark.skipif(
    not (QUERIES.is_file() and CORPUS.is_file()), reason="MultiHop-RAG data not present"
)


def test_bundled_dev_set_loads() -> None:
    items = load_gold(GOLD)
    assert len(items) == 74 and len({i.id for i in items}) == 74
    unanswerable = [i for i in items if not i.answerable]
    assert len(unanswerable) == 10
    assert all(not i.sources and not i.evidence for i in unanswerable)
    assert items[0].line == 1 and items[-1].line == 74
    pointed = [i for i in items if i.points]  # why/summary/compound questions
    assert len(pointed) == 24 and all(i.answerable and i.answers for i in pointed)


def test_jsonl_defaults_and_cleaning(tmp_path: Path) -> None:
    p = write(
        tmp_path / "g.jsonl",
        '{"question": "  Who?  ", "answers": ["A", "A", " "]}\n\n'
        '{"id": 7, "question": "Why?", "type": "why", "sources": ["d"]}\n',
    )
    a, b = load_gold(p)
    assert (a.id, a.question, a.answers, a.type, a.line) == ("line1", "Who?", ["A"], "untyped", 1)
    assert (b.id, b.type, b.sources, b.answers, b.line) == ("7", "why", ["d"], [], 3)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"id": "a", "question": "ok?"}\n{"id": "b", "question": "broken?"\n', ":2: invalid JSON"),
        (
            '{"id": "a", "question": "ok?"}\n\n{"id": "b", "answers": ["x"]}\n',
            ":3: missing 'question'",
        ),
        ('{"id": "a", "question": "?", "answers": "x"}\n', ":1: 'answers' must be a list"),
        ('["not", "an", "object"]\n', ":1: expected a JSON object"),
        ('{"id": "a", "question": "x?"}\n{"id": "a", "question": "y?"}\n', ":2: duplicate id"),
        ("\n\n", "holds no questions"),
    ],
)
def test_malformed_gold_names_the_line(tmp_path: Path, text: str, needle: str) -> None:
    p = write(tmp_path / "bad.jsonl", text)
    with pytest.raises(InputError) as e:
        load_gold(p)
    msg = str(e.value)
    assert needle in msg and str(p) in msg and "\n" not in msg


def test_missing_gold_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_gold(tmp_path / "nope.jsonl")


# --------------------------------------------------------------------------- MultiHop-RAG


@needs_multihop
def test_multihop_adapter_on_a_slice_of_the_real_file(tmp_path: Path) -> None:
    raw = json.loads(QUERIES.read_text(encoding="utf-8"))
    picked = raw[:40] + [q for q in raw if q["question_type"] == "null_query"][:5]
    sl = tmp_path / "slice.json"
    sl.write_text(json.dumps(picked, indent=1, ensure_ascii=False), encoding="utf-8")
    items = load_gold(sl, "multihop-rag")
    assert len(items) == len(picked)

    # the ids that ingesting corpus.json gives each article, by url
    corpus = read_paths([CORPUS], max_file_mb=500, max_files=10)
    assert not corpus.skipped
    by_url = {d.url: d for d in corpus.documents}
    assert len(by_url) == 609

    checked = 0
    for it, q in zip(items, picked, strict=True):
        assert it.question == " ".join(q["query"].split())
        assert it.type == q["question_type"].removesuffix("_query")
        if q["question_type"] == "null_query":
            assert it.answers == [] and it.sources == [] and it.evidence == []
            continue
        assert it.answers == [q["answer"]]
        expected: list[str] = []
        for ev in q["evidence_list"]:
            doc = by_url[ev["url"]]  # every evidence article is in the corpus
            if doc.id not in expected:
                expected.append(doc.id)
            assert doc.id in it.sources
            # the fact is in that article's body, ignoring white space (as the paper says)
            assert "".join(ev["fact"].split()) in "".join(doc.text.split())
            checked += 1
        assert it.sources == expected
        assert it.evidence == list(dict.fromkeys(e["fact"].strip() for e in q["evidence_list"]))
    assert checked > 80


@needs_multihop
def test_multihop_whole_dev_file() -> None:
    items = load_gold(QUERIES, "multihop-rag")
    assert len(items) == 2045 and len({i.id for i in items}) == 2045
    counts: dict[str, int] = {}
    for i in items:
        counts[i.type] = counts.get(i.type, 0) + 1
    assert counts == {"comparison": 685, "inference": 649, "temporal": 468, "null": 243}
    assert all(not i.answerable for i in items if i.type == "null")
    assert all(i.answerable and i.evidence and i.sources for i in items if i.type != "null")
    # each item's line number is the line its object opens on
    lines = QUERIES.read_text(encoding="utf-8").splitlines()
    assert items[0].line == 2
    assert all(lines[i.line - 1].strip() == "{" for i in items)
    assert fold(items[0].question).startswith("who is the individual")


def test_multihop_malformed_item_names_the_line(tmp_path: Path) -> None:
    p = write(
        tmp_path / "q.json",
        '[\n  {"query": "ok?", "answer": "x", "question_type": "inference_query",\n'
        '   "evidence_list": [{"url": "https://e.com/a", "fact": "f"}]},\n'
        '  {"answer": "no query"}\n]\n',
    )
    with pytest.raises(InputError, match=r"q\.json:4 \(query #1\): missing 'query'"):
        load_gold(p, "multihop-rag")
    p2 = write(tmp_path / "q2.json", '[\n {"query": "a?"},\n {"query": "b?",, }\n]\n')
    with pytest.raises(InputError, match=r"q2\.json:3: invalid JSON"):
        load_gold(p2, "multihop-rag")
    p3 = write(tmp_path / "q3.jsonl", '{"query": "a?"}\n')
    with pytest.raises(InputError, match="expected a JSON array"):
        load_gold(p3, "multihop-rag")
