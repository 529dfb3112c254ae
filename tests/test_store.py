"""The index on disk: round trips, incremental ingest, mismatches, locks, leftovers."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import api
from rag.errors import IndexBusyError, IndexMismatchError, IndexNotFoundError
from rag.retrieve import Retriever
from rag.store import FORMAT_VERSION, IndexWriter, current_generation, open_index

from .conftest import ROOT, CountingEncoder, settings_for, write


def _corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    shutil.copytree(ROOT / "data" / "articles", d)
    return d


def test_save_then_load_gives_identical_hits(bundled_index: Path, encoder: Any) -> None:
    a = open_index(bundled_index)
    queries = ["why did Russia lift the ban", "women's rights", "energy exports to Asia"]
    first = Retriever(a, encoder).search_many(queries, 5)
    b = open_index(bundled_index)  # a fresh load from disk
    second = Retriever(b, encoder).search_many(queries, 5)
    assert [[(h.chunk.id, round(h.score, 6)) for h in hs] for hs in first] == [
        [(h.chunk.id, round(h.score, 6)) for h in hs] for hs in second
    ]
    assert np.array_equal(np.asarray(a.vectors), np.asarray(b.vectors))
    norms = np.linalg.norm(np.asarray(b.vectors), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)
    for c in b.all_chunks():
        assert b.doc_text(c.doc_id)[c.start : c.end] == c.text
    positions = list(range(b.n_chunks))
    for c, sv in zip(b.all_chunks(), b.sentence_vectors_at(positions), strict=True):
        assert sv is not None and sv.shape == (len(c.sentences), 384)  # one per sentence
    assert np.array_equal(np.asarray(a.sent_vectors), np.asarray(b.sent_vectors))
    m = b.manifest
    assert m["format"] == FORMAT_VERSION and m["embedding"]["dim"] == 384
    assert m["embedding"]["backend"] == "onnx-int8"  # the default backend, recorded
    assert m["settings"]["embedding_model"] == "all-MiniLM-L6-v2"
    assert set(b.documents()) == {"russia-lifts-ban-on-taliban", "why-russia-unbanned-the-taliban"}
    assert m["created_at"] and m["updated_at"]


def test_reingest_of_unchanged_files_embeds_nothing(
    tmp_path: Path, counting: CountingEncoder
) -> None:
    corpus = _corpus(tmp_path)
    s = settings_for(tmp_path / "ix")
    first = api.ingest([corpus], s, encoder=counting)
    assert len(first.added) == 2 and counting.texts == first.chunks_embedded > 0
    counting.texts = counting.calls = 0
    again = api.ingest([corpus], s, encoder=counting)
    assert counting.calls == 0 and counting.texts == 0
    assert sorted(again.unchanged) == sorted(first.added) and again.chunks_embedded == 0
    assert again.generation == first.generation  # nothing was rewritten


def test_a_changed_file_replaces_its_chunks(tmp_path: Path, counting: CountingEncoder) -> None:
    corpus = _corpus(tmp_path)
    s = settings_for(tmp_path / "ix")
    api.ingest([corpus], s, encoder=counting)
    before = open_index(s.index.dir)
    other_before = [c.text for _, c in before.chunks_of("why-russia-unbanned-the-taliban")]
    f = corpus / "russia-lifts-ban-on-taliban.md"
    f.write_text(f.read_text().replace("145 people", "one hundred and forty-five people"))
    counting.texts = 0
    r = api.ingest([corpus], s, encoder=counting)
    assert r.updated == ["russia-lifts-ban-on-taliban"] and r.unchanged == [
        "why-russia-unbanned-the-taliban"
    ]
    after = open_index(s.index.dir)
    new_chunks = [c for _, c in after.chunks_of("russia-lifts-ban-on-taliban")]
    assert counting.texts == len(new_chunks)
    joined = " ".join(c.text for c in new_chunks)
    assert "one hundred and forty-five people" in joined and "145 people" not in joined
    assert [c.text for _, c in after.chunks_of("why-russia-unbanned-the-taliban")] == other_before
    assert after.n_chunks == len(after.all_chunks())


def test_prune_removes_documents_whose_files_are_gone(tmp_path: Path, encoder: Any) -> None:
    corpus = _corpus(tmp_path)
    s = settings_for(tmp_path / "ix")
    api.ingest([corpus], s, encoder=encoder)
    (corpus / "russia-lifts-ban-on-taliban.md").unlink()
    kept = api.ingest([corpus], s, encoder=encoder)
    assert kept.removed == [] and len(open_index(s.index.dir).doc_rows()) == 2
    pruned = api.ingest([corpus], s, prune=True, encoder=encoder)
    assert pruned.removed == ["russia-lifts-ban-on-taliban"]
    assert [d["id"] for d in open_index(s.index.dir).doc_rows()] == [
        "why-russia-unbanned-the-taliban"
    ]


def test_an_index_built_with_other_settings_is_refused(index_copy: Path, encoder: Any) -> None:
    gen = current_generation(index_copy)
    other = settings_for(index_copy, embedding={"model": "sentence-transformers/all-MiniLM-L6-v2"})
    with pytest.raises(IndexMismatchError, match=r"embedding_model.*rag ingest --rebuild"):
        api.ingest(None, other, encoder=encoder)
    with pytest.raises(IndexMismatchError, match="embedding_model"):
        api.Pipeline(other).index()
    chunky = settings_for(index_copy, chunking={"max_tokens": 128})
    with pytest.raises(IndexMismatchError, match=r"max_tokens=256.*RAG_CHUNKING__MAX_TOKENS"):
        api.ingest(None, chunky, encoder=encoder)
    assert current_generation(index_copy) == gen  # untouched
    rebuilt = api.ingest(None, chunky, rebuild=True, encoder=encoder)
    assert rebuilt.generation != gen
    assert open_index(index_copy).manifest["settings"]["max_tokens"] == 128


def test_a_second_writer_waits_then_fails_clearly(index_copy: Path) -> None:
    with IndexWriter(index_copy), pytest.raises(IndexBusyError, match="locked by another ingest"):
        IndexWriter(index_copy, lock_timeout_s=0.2).__enter__()


def test_leftovers_of_a_killed_writer_are_cleaned(index_copy: Path, encoder: Any) -> None:
    live = current_generation(index_copy)
    junk = index_copy / "gen-000099.tmp-12345"
    write(junk / "manifest.json", "{half")
    unpublished = index_copy / "gen-000098"
    unpublished.mkdir()
    assert open_index(index_copy).generation == live  # readers ignore both
    corpus = write(index_copy.parent / "new" / "n.md", "# New\n\nA new article about tea.")
    api.ingest([corpus.parent], settings_for(index_copy), encoder=encoder)
    assert not junk.exists() and not unpublished.exists()
    names = sorted(p.name for p in index_copy.iterdir() if p.name.startswith("gen-"))
    assert len(names) == 2 and names[0] == live  # the new one and the previous one


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        open_index(tmp_path / "none")
