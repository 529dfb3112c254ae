"""Append-only commits: segments, tombstones, hard links, merges and `rag index compact`.

An index built in several commits (several segments, some documents replaced or removed)
must search exactly like the same documents written in one commit: same chunks, same
BM25 (statistics of the whole index), same ranking. A commit writes only its own segment
and links the others; a merge (in the background or by `rag index compact`) drops the
rows of deleted documents and changes no result.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import api
from rag.chunking import Chunker, ChunkParams
from rag.config import load_settings
from rag.ingest.run import stored_document
from rag.retrieve import Retriever
from rag.store import IndexWriter, current_generation, open_index
from rag.store.merge import plan
from rag.types import Document

from .conftest import ROOT, settings_for, write
from .test_cli import run

QUESTIONS = [
    "why did Russia lift the ban",
    "who initiated the request to lift the ban?",
    "Which article mentions the harbour tunnel?",
    "What did the mayor say about buses?",
]


def _articles(folder: Path, n: int, edition: str = "first") -> Path:
    """The bundled articles plus n short ones (each naming its edition)."""
    shutil.copytree(ROOT / "data" / "articles", folder, dirs_exist_ok=True)
    for i in range(n):
        write(
            folder / f"city-{i}.md",
            f"---\ntitle: City note {i}\nsource: Gazette\npublished_at: 2024-05-{i + 1:02d}\n"
            f"---\n\nThe mayor said the harbour tunnel {i} opens in the {edition} edition. "
            f"Buses will run every {i + 5} minutes once it opens, the transport office said.\n",
        )
    return folder


def _ranked(index: Path, encoder: Any) -> list[list[tuple[str, float]]]:
    idx = open_index(index)
    hits = Retriever(idx, encoder).search_many(QUESTIONS, 6)
    return [[(h.chunk.id, round(h.score, 5)) for h in hs] for hs in hits]


def _bm25(index: Path, q: str) -> dict[str, float]:
    idx = open_index(index)
    lex = idx.lexical()
    assert lex is not None
    from rag.text import terms

    s = lex[0].scores(terms(q))
    return {c.id: round(float(v), 5) for c, v in zip(idx.all_chunks(), s, strict=True)}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> dict[str, Path]:
    """The same final documents written in one commit and in five (two documents edited
    and one removed on the way)."""
    root = tmp_path_factory.mktemp("segments")
    corpus = _articles(root / "corpus", 6)
    one = load_settings(index={"dir": root / "one", "merge_factor": 0})
    many = load_settings(index={"dir": root / "many", "merge_factor": 0})
    # five commits: bundled + 2, +2, +2, city-1 and city-3 edited, city-5 removed
    stage = root / "stage"
    _articles(stage, 0)
    api.ingest([stage], many, encoder=encoder)
    for batch in ((0, 1), (2, 3), (4, 5)):
        for i in batch:
            shutil.copy(corpus / f"city-{i}.md", stage / f"city-{i}.md")
        api.ingest([stage], many, encoder=encoder)
    for i in (1, 3):
        f = stage / f"city-{i}.md"
        f.write_text(f.read_text().replace("first edition", "second edition"))
        g = corpus / f"city-{i}.md"
        g.write_text(g.read_text().replace("first edition", "second edition"))
    (stage / "city-5.md").unlink()
    (corpus / "city-5.md").unlink()
    api.ingest([stage], many, prune=True, encoder=encoder)
    # the same documents with the same vectors, written in one commit
    src = open_index(many.index.dir)
    with IndexWriter(one.index.dir) as w:
        for doc_id in src.docs():
            rows = src.chunks_of(doc_id)
            pos = [p for p, _ in rows]
            w.put(
                stored_document(src, doc_id),
                [c for _, c in rows],
                np.asarray(src.vectors)[pos],
                src.sentence_vectors_at(pos),  # type: ignore[arg-type]
            )
        w.commit(dict(src.manifest["settings"]), dict(src.manifest["embedding"]))
    return {"one": root / "one", "many": root / "many", "root": root}


def test_segments_search_like_one_index(built: dict[str, Path], encoder: Any) -> None:
    many = open_index(built["many"])
    m = many.manifest
    assert [s["name"] for s in m["segments"]] == [f"seg-{i:06d}" for i in range(1, 6)]
    assert sorted(d for s in m["segments"] for d in s["deleted"]) == [
        "city-1", "city-3", "city-5",
    ]  # fmt: skip
    one = open_index(built["one"])
    assert sorted(many.docs()) == sorted(one.docs())
    assert many.n_chunks == one.n_chunks == m["counts"]["chunks"]
    assert sorted(c.text for c in many.all_chunks()) == sorted(c.text for c in one.all_chunks())
    assert "second edition" in (many.doc_text("city-3") or "")
    assert all("first edition" not in c.text for _, c in many.chunks_of("city-1"))
    for q in ("harbour tunnel buses", "Taliban ban", "mayor edition"):
        assert _bm25(built["many"], q) == _bm25(built["one"], q)  # whole-index statistics
    assert _ranked(built["many"], encoder) == _ranked(built["one"], encoder)


def test_a_commit_links_what_it_keeps(built: dict[str, Path], tmp_path: Path, encoder: Any) -> None:
    index = tmp_path / "ix"
    shutil.copytree(built["many"], index, copy_function=os.link)  # a copy that shares files
    old = current_generation(index)
    before = open_index(index).manifest
    note = write(tmp_path / "more" / "note.md", "# A note\n\nThe ferry runs at dawn.\n")
    r = api.ingest([note.parent], settings_for(index), encoder=encoder)
    new = current_generation(index)
    assert new != old and r.added == ["note"]
    after = open_index(index).manifest
    assert [s["name"] for s in after["segments"]] == [
        *(s["name"] for s in before["segments"]),
        "seg-000006",
    ]
    for s in before["segments"]:  # same files (same inodes), same records
        for rel in ("vectors.npy", "chunks.sqlite", "lexical/chunks/rows.npy"):
            a, b = index / old / s["name"] / rel, index / new / s["name"] / rel  # type: ignore[operator]
            assert os.stat(a).st_ino == os.stat(b).st_ino, rel
        for rel, entry in before["files"].items():
            assert after["files"][rel] == entry
    written = [rel for rel in after["files"] if rel not in before["files"]]
    assert written and all(rel.startswith("seg-000006/") for rel in written)


def test_compact_merges_everything_and_changes_no_result(
    built: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], encoder: Any
) -> None:
    index = tmp_path / "ix"
    shutil.copytree(built["many"], index)
    want = _ranked(index, encoder)
    code, out, err = run(capsys, "index", "compact", "--index", str(index))
    assert code == 0, err
    assert "5 segments merged into one" in out and "deleted chunks dropped" in out
    idx = open_index(index)
    [seg] = idx.manifest["segments"]
    assert seg["deleted"] == [] and seg["chunks"] == idx.n_chunks
    assert _ranked(index, encoder) == want
    assert _bm25(index, "harbour tunnel buses") == _bm25(built["one"], "harbour tunnel buses")
    vec = {c.id: v for c, v in zip(idx.all_chunks(), np.asarray(idx.vectors), strict=True)}
    ref = open_index(built["one"])
    for c, v in zip(ref.all_chunks(), np.asarray(ref.vectors), strict=True):
        np.testing.assert_array_equal(vec[c.id], v)
    code, out, _ = run(capsys, "index", "compact", "--index", str(index))
    assert code == 0 and "nothing to compact" in out
    code, out, _ = run(capsys, "index", "verify", "--index", str(index))
    assert code == 0, out


def test_merges_run_in_the_background_as_segments_pile_up(tmp_path: Path, encoder: Any) -> None:
    corpus = _articles(tmp_path / "corpus", 5)
    stage = _articles(tmp_path / "stage", 0)
    s = load_settings(index={"dir": tmp_path / "ix", "merge_factor": 3})
    api.ingest([stage], s, encoder=encoder)
    names = []
    for i in range(5):
        shutil.copy(corpus / f"city-{i}.md", stage / f"city-{i}.md")
        api.ingest([stage], s, encoder=encoder)
        names.append([m["name"] for m in open_index(s.index.dir).manifest["segments"]])
    # each ingest waits for the merge it started: at most merge_factor - 1 small segments
    assert all(len(n) < 3 for n in names), names
    assert not list(Path(s.index.dir).glob("merge-*"))
    idx = open_index(s.index.dir)
    assert sorted(idx.docs()) == sorted(["russia-lifts-ban-on-taliban",
        "why-russia-unbanned-the-taliban", *(f"city-{i}" for i in range(5))])  # fmt: skip
    assert idx.n_chunks == len({c.id for c in idx.all_chunks()})
    want = _ranked(s.index.dir, encoder)
    with IndexWriter(s.index.dir) as w:
        w.compact()
    assert len(open_index(s.index.dir).manifest["segments"]) == 1
    assert _ranked(s.index.dir, encoder) == want


def test_a_merge_swaps_in_at_the_next_commit(tmp_path: Path, encoder: Any) -> None:
    """Documents deleted from a segment while it is being merged stay deleted."""
    corpus = _articles(tmp_path / "corpus", 3)
    s = settings_for(tmp_path / "ix")
    api.ingest([corpus], s, encoder=encoder)
    doc = "russia-lifts-ban-on-taliban"
    with IndexWriter(s.index.dir, merge_factor=2) as w:
        assert w.base is not None
        settings, embedding = dict(w.base.manifest["settings"]), dict(w.base.manifest["embedding"])
        for i in range(2):  # a second segment: the first commit starts a merge
            meta = w.base.docs()[doc]
            d = Document(
                id=doc, title=meta.title, source=meta.source, hash=f"h{i}",
                text=f"{w.base.doc_text(doc)}\nEdit {i}.",
            )  # fmt: skip
            chunks = Chunker(encoder.counter(), ChunkParams()).chunk(d)
            w.put(d, chunks, encoder.encode([c.text for c in chunks]), None)
            w.commit(settings, embedding)
        assert w._merge is not None
        w._merge.wait()
        w.remove("city-0")  # deleted from a merge source after the merge began
        w.commit(settings, embedding)
    idx = open_index(s.index.dir)
    assert "city-0" not in idx.docs() and len(idx.manifest["segments"]) <= 2
    assert all(c.doc_id != "city-0" for c in idx.all_chunks())
    assert (idx.doc_text(doc) or "").endswith("Edit 1.")
    assert sum(1 for c in idx.all_chunks() if c.doc_id == doc) == len(idx.chunks_of(doc))
    assert idx.n_chunks == len(idx.all_chunks()) == idx.manifest["counts"]["chunks"]
    assert not list(Path(s.index.dir).glob("merge-*"))


def test_the_merge_policy() -> None:
    def seg(name: str, chunks: int, deleted: int = 0) -> dict[str, Any]:
        return {"name": name, "chunks": chunks, "documents": 10, "deleted_chunks": deleted}

    small = [seg(f"s{i}", 50) for i in range(9)]
    assert plan(small, 10) == []
    assert plan([*small, seg("s9", 900)], 10) == [f"s{i}" for i in range(10)]
    assert plan([seg("big", 100_000), *small[:3]], 4) == []
    assert plan([seg("big", 100_000, deleted=60_000), *small], 10) == ["big"]
    assert plan([seg(f"m{i}", 12_000) for i in range(10)], 10) == [f"m{i}" for i in range(10)]
    assert plan(small + small, 0) == []


def test_a_killed_merge_leaves_nothing_the_next_writer_keeps(
    index_copy: Path, encoder: Any
) -> None:
    junk = index_copy / "merge-000009.tmp-4242" / "out" / "seg-000009"
    write(junk / "vectors.npy", b"half")
    assert open_index(index_copy).n_chunks  # readers ignore it
    note = write(index_copy.parent / "n" / "n.md", "# N\n\nA new note about tea.\n")
    api.ingest([note.parent], settings_for(index_copy), encoder=encoder)
    assert not (index_copy / "merge-000009.tmp-4242").exists()
